"""Partitions and partition keys with the real pymilvus client: MilvusClient and ORM paths,
per-partition writes, reads, statistics, load and release, drops, and Milvus' refusals."""
import random

import pytest
from pymilvus import (
    Collection,
    CollectionSchema,
    DataType,
    FieldSchema,
    MilvusClient,
    MilvusException,
    Partition,
    connections,
    utility,
)


def vec(seed, dim=8):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(dim)]


def rows(ids):
    return [{"id": i, "vector": vec(i)} for i in ids]


def ids_of(hits):
    return sorted(h["id"] for h in hits)


def count(client, name, partitions=None, flt=""):
    res = client.query(name, filter=flt, output_fields=["count(*)"], partition_names=partitions)
    return res[0]["count(*)"]


def test_partitions_with_milvus_client(client):
    client.create_collection("docs", dimension=8, consistency_level="Strong")
    client.create_partition("docs", "a")
    client.create_partition("docs", "a")  # exists already: Milvus answers success
    client.create_partition("docs", "b")
    assert client.has_partition("docs", "a")
    assert not client.has_partition("docs", "zz")
    assert client.list_partitions("docs") == ["_default", "a", "b"]
    assert client.describe_collection("docs")["num_partitions"] == 3

    client.insert("docs", rows(range(0, 20)), partition_name="a")
    client.insert("docs", rows(range(100, 130)), partition_name="b")
    client.insert("docs", rows(range(200, 210)))
    assert client.get_partition_stats("docs", "a")["row_count"] == 20
    assert client.get_partition_stats("docs", "_default")["row_count"] == 10
    assert count(client, "docs", ["a"]) == 20
    assert count(client, "docs", ["a", "b"]) == 50
    assert count(client, "docs") == 60
    hits = client.search("docs", [vec(105)], limit=100, partition_names=["b"])[0]
    assert len(hits) == 30 and all(100 <= h["id"] < 130 for h in hits)
    assert hits[0]["id"] == 105

    # sealed: still apart
    client.flush("docs")
    assert client.get_partition_stats("docs", "b")["row_count"] == 30
    got = client.query("docs", filter="id >= 0", partition_names=["a"], limit=100)
    assert ids_of(got) == list(range(20))
    assert client.get("docs", ids=[5, 105], partition_names=["b"])[0]["id"] == 105
    assert len(client.get("docs", ids=[5, 105], partition_names=["b"])) == 1

    # a delete naming a partition deletes there only (5 is in a, 105 in b)
    client.delete("docs", ids=[105, 5], partition_name="a")
    assert ids_of(client.query("docs", filter="id in [5, 105]")) == [105]
    # unknown partitions
    with pytest.raises(MilvusException, match="partition not found") as e:
        client.insert("docs", rows([999]), partition_name="nope")
    assert e.value.code == 200
    with pytest.raises(MilvusException, match="partition not found"):
        client.search("docs", [vec(1)], limit=1, partition_names=["nope"])

    # released partitions: refused by name, skipped otherwise
    client.release_partitions("docs", ["a"])
    assert str(client.get_load_state("docs", partition_name="a")["state"]) == "NotLoad"
    assert str(client.get_load_state("docs")["state"]) == "Loaded"
    with pytest.raises(MilvusException, match="partition not loaded"):
        client.search("docs", [vec(1)], limit=5, partition_names=["a"])
    assert count(client, "docs") == 40
    hits = client.search("docs", [vec(3)], limit=100)[0]
    assert all(h["id"] >= 100 for h in hits)

    # drops: refused while loaded, for _default and for bad names
    client.load_partitions("docs", ["a"])
    with pytest.raises(MilvusException, match="partition cannot be dropped, partition is loaded"):
        client.drop_partition("docs", "a")
    with pytest.raises(MilvusException, match="default partition cannot be deleted"):
        client.drop_partition("docs", "_default")
    with pytest.raises(MilvusException, match="Invalid partition name"):
        client.create_partition("docs", "a-b")
    client.release_partitions("docs", ["a"])
    client.drop_partition("docs", "a")
    client.drop_partition("docs", "a")  # gone: nothing happens
    assert client.list_partitions("docs") == ["_default", "b"]
    assert count(client, "docs") == 40
    assert client.get_collection_stats("docs")["row_count"] == 40

    # releasing every partition releases the collection; loading one loads just it
    client.release_partitions("docs", ["_default", "b"])
    assert str(client.get_load_state("docs")["state"]) == "NotLoad"
    client.load_partitions("docs", ["b"])
    assert str(client.get_load_state("docs")["state"]) == "Loaded"
    assert count(client, "docs") == 30
    client.load_collection("docs")
    assert count(client, "docs") == 40


def test_partitions_with_the_orm(server):
    conn = "orm-partitions"
    connections.connect(alias=conn, uri=server.uri)
    try:
        schema = CollectionSchema([
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("vector", DataType.FLOAT_VECTOR, dim=8),
        ])
        coll = Collection("orm_parts", schema, using=conn, consistency_level="Strong")
        p1 = Partition(coll, "p1")  # HasPartition, then CreatePartition
        assert coll.has_partition("p1")
        assert utility.has_partition("orm_parts", "p1", using=conn)
        assert sorted(p.name for p in coll.partitions) == ["_default", "p1"]
        p1.insert([[i for i in range(10)], [vec(i) for i in range(10)]])
        coll.insert([[i for i in range(10, 15)], [vec(i) for i in range(10, 15)]])
        coll.flush()
        assert p1.num_entities == 10
        assert coll.partition("_default").num_entities == 5
        coll.create_index("vector", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
        p1.load()
        assert p1.query("id >= 0", output_fields=["id"], limit=100).__len__() == 10
        res = p1.search([vec(3)], "vector", {"metric_type": "L2"}, limit=3)
        assert res[0][0].id == 3
        # the other partition is not loaded
        with pytest.raises(MilvusException, match="partition not loaded"):
            coll.query("id >= 0", partition_names=["_default"], limit=10)
        p1.release()
        coll.drop_partition("p1")
        assert not coll.has_partition("p1")
        coll.load()
        assert coll.query("id >= 0", output_fields=["count(*)"])[0]["count(*)"] == 5
        coll.release()
        coll.drop()
    finally:
        connections.disconnect(conn)


def keyed_schema(client, key_type=DataType.VARCHAR):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    if key_type == DataType.VARCHAR:
        schema.add_field("tenant", DataType.VARCHAR, max_length=16, is_partition_key=True)
    else:
        schema.add_field("tenant", key_type, is_partition_key=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
    return schema


def test_partition_keys(client):
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection("tenants", schema=keyed_schema(client), index_params=ip,
                             num_partitions=4, consistency_level="Strong")
    assert client.list_partitions("tenants") == [f"_default_{i}" for i in range(4)]
    desc = client.describe_collection("tenants")
    assert desc["num_partitions"] == 4
    assert [f.get("is_partition_key", False) for f in desc["fields"]] == [False, True, False]

    data = [{"id": i, "tenant": f"t{i % 10}", "vector": vec(i)} for i in range(200)]
    client.insert("tenants", data)
    client.flush("tenants")
    client.insert("tenants", [{"id": 1000, "tenant": "t3", "vector": vec(1000)}])
    # the row of key 1 moves to key t7 by upsert
    client.upsert("tenants", [{"id": 1, "tenant": "t7", "vector": vec(1)}])
    assert count(client, "tenants") == 201
    assert count(client, "tenants", flt='tenant == "t3"') == 21
    assert count(client, "tenants", flt='tenant in ["t1", "t7"]') == 40
    got = client.query("tenants", filter='tenant == "t7" and id < 20', output_fields=["tenant"])
    assert ids_of(got) == [1, 7, 17]
    hits = client.search("tenants", [vec(33)], limit=5, filter='tenant == "t3"',
                         output_fields=["tenant"])[0]
    assert hits[0]["id"] == 33 and all(h["entity"]["tenant"] == "t3" for h in hits)
    # rows spread over the partitions
    sizes = [client.get_partition_stats("tenants", f"_default_{i}")["row_count"] for i in range(4)]
    assert sum(sizes) == 201 and max(sizes) < 201

    # Milvus' refusals in partition-key mode
    with pytest.raises(MilvusException, match="not support manually specifying the partition names"):
        client.insert("tenants", [{"id": 5000, "tenant": "t1", "vector": vec(1)}],
                      partition_name="_default_1")
    with pytest.raises(MilvusException, match="not support manually specifying the partition names"):
        client.search("tenants", [vec(1)], limit=1, partition_names=["_default_1"])
    with pytest.raises(MilvusException, match="disable create partition if partition key mode is used"):
        client.create_partition("tenants", "extra")
    with pytest.raises(MilvusException, match="disable drop partition if partition key mode is used"):
        client.drop_partition("tenants", "_default_1")


def test_partition_key_schemas_are_checked(client):
    # 16 partitions by default
    client.create_collection("keyed16", schema=keyed_schema(client, DataType.INT64))
    assert len(client.list_partitions("keyed16")) == 16

    plain = client.create_schema(auto_id=False)
    plain.add_field("id", DataType.INT64, is_primary=True)
    plain.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
    with pytest.raises(MilvusException, match="num_partitions should only be specified with partition key"):
        client.create_collection("nokey", schema=plain, num_partitions=4)
    with pytest.raises(MilvusException, match="exceeds max configuration"):
        client.create_collection("toomany", schema=keyed_schema(client), num_partitions=1025)
    # (two partition keys, a key on the primary key or of another type: pymilvus refuses
    # those schemas itself; the engine's tests cover the server's refusals)
    # isolation is still refused
    with pytest.raises(MilvusException, match="partitionkey.isolation"):
        client.create_collection("iso", schema=keyed_schema(client),
                                 properties={"partitionkey.isolation": "true"})
    assert not client.has_collection("badkey")
