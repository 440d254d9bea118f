"""Databases with the real pymilvus client: MilvusClient(db_name=...), use_database /
using_database (a re-Connect up to pymilvus 2.6.8, DescribeDatabase from 2.6.9), the ORM's
`db` module, isolation of same-named collections, and Milvus' refusals."""
import random

import pytest
from pymilvus import (Collection, CollectionSchema, DataType, FieldSchema, MilvusClient,
                      MilvusException, connections, db, utility)


def vec(dim, seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(dim)]


def fill(client, name, n, offset=0):
    client.create_collection(name, dimension=8, consistency_level="Strong")
    client.insert(name, [{"id": offset + i, "vector": vec(8, offset + i)} for i in range(n)])


def count(client, name):
    return client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]


def test_databases_isolate_collections(server, client):
    assert client.list_databases() == ["default"]
    client.create_database("analytics")
    assert set(client.list_databases()) == {"default", "analytics"}
    desc = client.describe_database("analytics")
    assert desc["name"] == "analytics"

    fill(client, "docs", 10)
    other = MilvusClient(server.uri, db_name="analytics")
    try:
        assert other.list_collections() == []
        fill(other, "docs", 3, offset=100)
        assert count(client, "docs") == 10
        assert count(other, "docs") == 3
        assert other.describe_collection("docs")["collection_id"] != client.describe_collection("docs")["collection_id"]
        hits = other.search("docs", [vec(8, 101)], limit=1)
        assert hits[0][0]["id"] == 101

        # switching the session's database
        client.use_database("analytics")
        assert client.list_collections() == ["docs"]
        assert count(client, "docs") == 3
        client.use_database("default")
        assert count(client, "docs") == 10

        # a database with collections is not dropped
        with pytest.raises(MilvusException, match="must drop all collections before drop database"):
            client.drop_database("analytics")
        other.drop_collection("docs")
        client.drop_database("analytics")
        assert client.list_databases() == ["default"]
        assert count(client, "docs") == 10
    finally:
        other.close()


def test_database_refusals(server, client):
    with pytest.raises(MilvusException, match="can not drop default database"):
        client.drop_database("default")
    client.create_database("dup")
    with pytest.raises(MilvusException, match="database already exist"):
        client.create_database("dup")
    for bad, why in [("1db", "the first character of a database name must be an underscore or letter"),
                     ("a-b", "database name can only contain numbers, letters and underscores")]:
        with pytest.raises(MilvusException, match=why) as e:
            client.create_database(bad)
        assert e.value.code == 802
    # an unknown database: code 800, for use_database and for a client made in it
    with pytest.raises(MilvusException) as e:
        client.use_database("nope")
        client.list_collections()
    assert e.value.code == 800
    with pytest.raises(MilvusException) as e:
        c = MilvusClient(server.uri, db_name="nope")
        c.list_collections()
    assert e.value.code == 800
    # properties: the collection limit takes effect; properties Quarry does not act on are refused
    client.create_database("small", properties={"database.max.collections": 1})
    assert client.describe_database("small")["database.max.collections"] == "1"
    small = MilvusClient(server.uri, db_name="small")
    try:
        small.create_collection("one", dimension=4)
        with pytest.raises(MilvusException, match="exceeded the limit number of collections"):
            small.create_collection("two", dimension=4)
        client.alter_database_properties("small", {"database.max.collections": 2})
        small.create_collection("two", dimension=4)
        with pytest.raises(MilvusException, match="database.replica.number"):
            client.alter_database_properties("small", {"database.replica.number": 2})
        client.drop_database_properties("small", ["database.max.collections"])
        assert "database.max.collections" not in client.describe_database("small")
        small.create_collection("three", dimension=4)
        assert sorted(small.list_collections()) == ["one", "three", "two"]
    finally:
        small.close()
    with pytest.raises(MilvusException, match="database.resource_groups"):
        client.create_database("rg", properties={"database.resource_groups": "rg1"})
    assert "rg" not in client.list_databases()
    # a client's own keys are stored and returned, as Milvus does (examples/database.py)
    client.create_database("annotated", properties={"key1": "value1"})
    assert client.describe_database("annotated")["key1"] == "value1"
    client.alter_database_properties("annotated", {"key2": "value2"})
    assert client.describe_database("annotated")["key2"] == "value2"
    with pytest.raises(MilvusException, match="timezone"):
        client.alter_database_properties("annotated", {"timezone": "UTC"})


def test_orm_database_flow(server):
    """pymilvus' examples/database.py flow: ORM connect, db.create_database, db.using_database
    (with HNSW where the example builds IVF_FLAT, an index type Quarry does not build)."""
    alias = "dbflow"
    connections.connect(alias=alias, uri=server.uri, db_name="default")
    try:
        fields = [FieldSchema(name="id", dtype=DataType.INT64, is_primary=True),
                  FieldSchema(name="double", dtype=DataType.DOUBLE),
                  FieldSchema(name="fv", dtype=DataType.FLOAT_VECTOR, dim=16)]
        schema = CollectionSchema(fields=fields)
        Collection(name="col1_db1", schema=schema, using=alias)
        if "db1" not in db.list_database(using=alias):
            db.create_database(db_name="db1", using=alias)
        db.using_database(db_name="db1", using=alias)
        col = Collection(name="col1_db1", schema=schema, using=alias)
        n = 500
        vectors = [vec(16, i) for i in range(n)]
        col.insert([list(range(n)), [float(i) for i in range(n)], vectors])
        col.flush()
        assert col.num_entities == n
        col.create_index("fv", {"index_type": "HNSW", "params": {"M": 8, "efConstruction": 64}, "metric_type": "IP"})
        col.load()
        res = col.search(vectors[:3], "fv", {"metric_type": "IP", "params": {"ef": 16}}, limit=3, expr="id >= 0")
        assert len(res) == 3 and all(len(r) == 3 for r in res)
        assert utility.list_collections(using=alias) == ["col1_db1"]
        col.release()
        col.drop_index()
        col.drop()
        db.drop_database(db_name="db1", using=alias)
        assert db.list_database(using=alias) == ["default"]
        db.using_database(db_name="default", using=alias)
        assert utility.list_collections(using=alias) == ["col1_db1"]
    finally:
        connections.disconnect(alias)
