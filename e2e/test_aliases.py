"""Aliases with the real pymilvus client: every collection call through an alias, blue/green
switching with alter_alias while searching, per-database aliases, and Milvus' refusals."""
import random
import threading
import time

import pytest
from pymilvus import Collection, MilvusClient, MilvusException, connections, utility


def vec(dim, seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(dim)]


def make(client, name, ids):
    client.create_collection(name, dimension=8, consistency_level="Strong")
    client.insert(name, [{"id": i, "vector": vec(8, i), "tag": name} for i in ids])


def test_alias_names_the_collection_everywhere(client):
    make(client, "books_v1", range(20))
    client.create_alias("books_v1", "books")
    desc = client.describe_collection("books")
    assert desc["collection_name"] == "books_v1"
    assert desc["aliases"] == ["books"]
    assert client.describe_alias("books")["collection_name"] == "books_v1"
    assert client.list_aliases("books_v1")["aliases"] == ["books"]
    assert client.has_collection("books")

    # writes, reads, index calls, flush and load through the alias
    client.insert("books", [{"id": 100, "vector": vec(8, 100), "tag": "via-alias"}])
    client.upsert("books", [{"id": 1, "vector": vec(8, 1), "tag": "upserted"}])
    client.delete("books", ids=[2])
    client.flush("books")
    assert client.get_collection_stats("books")["row_count"] == 20
    assert client.query("books", filter="id == 1", output_fields=["tag"])[0]["tag"] == "upserted"
    assert client.query("books_v1", filter="id == 100", output_fields=["tag"])[0]["tag"] == "via-alias"
    hits = client.search("books", [vec(8, 5)], limit=1)
    assert hits[0][0]["id"] == 5
    client.release_collection("books")
    assert str(client.get_load_state("books")["state"]) == "NotLoad"
    client.drop_index("books", "vector")
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 8, "efConstruction": 64})
    client.create_index("books", ip)
    assert client.describe_index("books", "vector")["index_type"] == "HNSW"
    client.load_collection("books")
    assert client.search("books", [vec(8, 7)], limit=1)[0][0]["id"] == 7

    # a collection with aliases is not dropped, nor is one dropped through its alias
    with pytest.raises(MilvusException, match="please remove all aliases before dropping the collection"):
        client.drop_collection("books_v1")
    with pytest.raises(MilvusException, match="cannot drop the collection via alias"):
        client.drop_collection("books")
    client.drop_alias("books")
    assert not client.has_collection("books")
    client.drop_collection("books_v1")


def test_blue_green_switch_while_searching(client):
    make(client, "blue", range(0, 50))
    make(client, "green", range(1000, 1050))
    client.create_alias("blue", "live")
    seen, errors, stop = set(), [], threading.Event()

    def search_loop():
        # the test's client (its channel is thread-safe): a second client on the same address
        # would share its connection in pymilvus 2.5, and closing it would close both
        while not stop.is_set():
            try:
                hits = client.search("live", [vec(8, 3)], limit=1, output_fields=["tag"])
                seen.add(hits[0][0]["entity"]["tag"])
            except Exception as e:  # noqa: BLE001 - any failure fails the test below
                errors.append(e)

    t = threading.Thread(target=search_loop)
    t.start()
    try:
        time.sleep(0.5)
        client.alter_alias("green", "live")
        time.sleep(0.5)
    finally:
        stop.set()
        t.join()
    assert errors == []
    assert seen == {"blue", "green"}
    assert client.describe_alias("live")["collection_name"] == "green"
    assert client.list_aliases("blue")["aliases"] == []
    assert client.list_aliases("green")["aliases"] == ["live"]
    assert client.search("live", [vec(8, 1003)], limit=1)[0][0]["id"] == 1003


def test_alias_refusals_and_databases(server, client):
    make(client, "a", range(3))
    make(client, "b", range(3))
    client.create_alias("a", "x")
    client.create_alias("a", "x")  # again on the same collection: accepted
    with pytest.raises(MilvusException, match="alias already exist") as e:
        client.create_alias("b", "x")
    assert e.value.code == 1602
    with pytest.raises(MilvusException, match="alias and collection name conflict") as e:
        client.create_alias("a", "b")
    assert e.value.code == 1601
    with pytest.raises(MilvusException) as e:
        client.alter_alias("b", "nope")
    assert e.value.code == 1600
    with pytest.raises(MilvusException) as e:
        client.describe_alias("nope")
    assert e.value.code == 1600
    with pytest.raises(MilvusException) as e:
        client.create_alias("missing", "y")
    assert e.value.code == 100
    with pytest.raises(MilvusException, match="conflicts with an existing alias"):
        client.create_collection("x", dimension=8)
    client.drop_alias("nope")  # dropping a missing alias succeeds, as in Milvus

    # aliases are per database
    client.create_database("other")
    other = MilvusClient(server.uri, db_name="other")
    try:
        assert not other.has_collection("x")
        make(other, "a", range(5))
        other.create_alias("a", "x")
        assert other.get_collection_stats("x")["row_count"] == 5
        assert client.get_collection_stats("x")["row_count"] == 3
        assert other.list_aliases()["aliases"] == ["x"]
        other.drop_alias("x")
        other.drop_collection("a")
    finally:
        other.close()
    assert client.describe_alias("x")["collection_name"] == "a"
    client.drop_database("other")


def test_orm_aliases(server):
    """pymilvus' examples/alias.py flow through the ORM's utility functions."""
    conn = "aliasflow"
    connections.connect(alias=conn, uri=server.uri)
    try:
        c = MilvusClient(server.uri)
        make(c, "orm_a", range(4))
        make(c, "orm_b", range(6))
        c.close()
        utility.create_alias("orm_a", "orm_live", using=conn)
        assert Collection("orm_live", using=conn).aliases == ["orm_live"]
        assert utility.list_aliases("orm_a", using=conn) == ["orm_live"]
        utility.alter_alias("orm_b", "orm_live", using=conn)
        assert Collection("orm_live", using=conn).num_entities == 6
        utility.drop_alias("orm_live", using=conn)
        assert utility.list_aliases("orm_b", using=conn) == []
    finally:
        connections.disconnect(conn)
