"""Collection management with the real pymilvus client: rename (also into another database),
alter and drop collection properties, replicas, and list_collections of loaded collections
(ShowCollections with `type` InMemory), with Milvus' refusals."""
import random
import time

import pytest
from pymilvus import Collection, MilvusClient, MilvusException, connections, utility
from pymilvus.grpc_gen import milvus_pb2


def vec(dim, seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(dim)]


def make(client, name, n=20):
    client.create_collection(name, dimension=8, consistency_level="Strong")
    client.insert(name, [{"id": i, "vector": vec(8, i), "tag": f"{name}-{i}"} for i in range(n)])


def test_rename_keeps_data_and_frees_the_old_name(client):
    make(client, "old_books")
    client.rename_collection("old_books", "books")
    assert not client.has_collection("old_books")
    assert client.has_collection("books")
    desc = client.describe_collection("books")
    assert desc["collection_name"] == "books"
    # rows, the loaded state and searches come along
    assert client.query("books", filter="id == 3", output_fields=["tag"])[0]["tag"] == "old_books-3"
    assert client.search("books", [vec(8, 5)], limit=1)[0][0]["id"] == 5
    client.insert("books", [{"id": 100, "vector": vec(8, 100), "tag": "new"}])
    assert client.query("books", filter="id == 100", output_fields=["tag"])[0]["tag"] == "new"
    # the old name is free for a new collection
    make(client, "old_books", n=3)
    assert client.query("old_books", filter="", output_fields=["count(*)"])[0]["count(*)"] == 3
    assert client.query("books", filter="", output_fields=["count(*)"])[0]["count(*)"] == 21


def test_rename_refusals(client):
    make(client, "a", n=2)
    make(client, "b", n=2)
    client.create_alias("b", "b_alias")
    for old, new in [("a", "b"), ("a", "b_alias"), ("missing", "c"), ("a", "a"), ("a", "1bad"),
                     ("b_alias", "c")]:
        with pytest.raises(MilvusException):
            client.rename_collection(old, new)
    # nothing changed
    assert sorted(client.list_collections()) == ["a", "b"]
    assert client.describe_alias("b_alias")["collection_name"] == "b"


def test_rename_into_another_database(client):
    make(client, "moving", n=5)
    client.create_database("other")
    with pytest.raises(MilvusException):
        client.rename_collection("moving", "moved", target_db="nope")
    client.create_alias("moving", "moving_alias")
    with pytest.raises(MilvusException, match="alias"):
        client.rename_collection("moving", "moved", target_db="other")
    client.drop_alias("moving_alias")
    client.rename_collection("moving", "moved", target_db="other")
    assert "moving" not in client.list_collections()
    client.using_database("other")
    assert client.list_collections() == ["moved"]
    assert client.query("moved", filter="", output_fields=["count(*)"])[0]["count(*)"] == 5
    assert client.describe_collection("moved")["collection_name"] == "moved"


def test_orm_rename(server):
    alias = "rename_orm"
    connections.connect(alias=alias, uri=server.uri)
    try:
        c = MilvusClient(server.uri)
        make(c, "orm_old", n=4)
        c.close()
        utility.rename_collection("orm_old", "orm_new", using=alias)
        assert utility.has_collection("orm_new", using=alias)
        assert not utility.has_collection("orm_old", using=alias)
        assert Collection("orm_new", using=alias).num_entities >= 0
    finally:
        connections.disconnect(alias)


def test_alter_and_drop_collection_properties(client):
    make(client, "props", n=2)
    client.alter_collection_properties("props", properties={"mmap.enabled": "true", "owner": "team-a"})
    props = client.describe_collection("props")["properties"]
    assert props.get("mmap.enabled") == "true" and props.get("owner") == "team-a"
    client.alter_collection_properties("props", properties={"owner": "team-b"})
    assert client.describe_collection("props")["properties"]["owner"] == "team-b"
    # properties Quarry would store and ignore are refused, and nothing changes
    for key, value in [("collection.autocompaction.enabled", "false"), ("collection.replica.number", "2"),
                       ("collection.insertRate.max.mb", "5")]:
        with pytest.raises(MilvusException, match="not supported"):
            client.alter_collection_properties("props", properties={key: value})
    assert key not in client.describe_collection("props")["properties"]
    client.drop_collection_properties("props", property_keys=["owner"])
    props = client.describe_collection("props")["properties"]
    assert "owner" not in props and props.get("mmap.enabled") == "true"
    with pytest.raises(MilvusException):
        client.alter_collection_properties("missing", properties={"owner": "x"})
    # writes and reads go on after the schema timestamp moved
    client.insert("props", [{"id": 7, "vector": vec(8, 7), "tag": "after"}])
    assert client.query("props", filter="id == 7", output_fields=["tag"])[0]["tag"] == "after"


def test_orm_set_properties(server):
    alias = "props_orm"
    connections.connect(alias=alias, uri=server.uri)
    try:
        c = MilvusClient(server.uri)
        make(c, "orm_props", n=2)
        c.close()
        col = Collection("orm_props", using=alias)
        col.set_properties({"mmap.enabled": "false"})
        with pytest.raises(MilvusException):
            col.set_properties({"collection.ttl.seconds": "-10"})
    finally:
        connections.disconnect(alias)


def show_collections(client, kind, names=()):
    stub = client._get_connection()._stub
    return stub.ShowCollections(milvus_pb2.ShowCollectionsRequest(type=kind, collection_names=list(names)))


def test_list_loaded_collections_only(client):
    make(client, "loaded_one", n=2)
    make(client, "released_one", n=2)
    client.release_collection("released_one")
    everything = show_collections(client, 0)
    assert sorted(everything.collection_names) == ["loaded_one", "released_one"]
    by_name = dict(zip(everything.collection_names, everything.inMemory_percentages))
    assert by_name == {"loaded_one": 100, "released_one": 0}
    loaded = show_collections(client, 1)
    assert list(loaded.collection_names) == ["loaded_one"]
    assert list(loaded.inMemory_percentages) == [100]
    assert list(loaded.query_service_available) == [True]
    # naming a released collection in the in-memory form is refused
    answer = show_collections(client, 1, ["released_one"])
    assert answer.status.code != 0 and "not loaded" in answer.status.reason
    assert list(show_collections(client, 1, ["loaded_one"]).collection_names) == ["loaded_one"]


def test_replicas_of_a_loaded_collection(server, client):
    client.create_collection("rep", dimension=8, num_shards=2)
    client.insert("rep", [{"id": 1, "vector": vec(8, 1)}])
    alias = "replicas"
    connections.connect(alias=alias, uri=server.uri)
    try:
        replicas = Collection("rep", using=alias).get_replicas()
        assert len(replicas.groups) == 1
        group = replicas.groups[0]
        assert len(group.shards) == 2
        assert len({s.channel_name for s in group.shards}) == 2
        assert all(s.shard_leader for s in group.shards)
        client.release_collection("rep")
        assert Collection("rep", using=alias).get_replicas().groups == []
    finally:
        connections.disconnect(alias)


def test_manual_compaction_merges_small_segments(server, client):
    client.create_collection("compacted", dimension=8, consistency_level="Strong")
    for batch in range(3):
        client.insert("compacted", [{"id": batch * 10 + i, "vector": vec(8, batch * 10 + i)} for i in range(10)])
        client.flush("compacted")  # one small sealed segment per flush
    client.delete("compacted", filter="id < 5")
    alias = "compaction"
    connections.connect(alias=alias, uri=server.uri)
    try:
        col = Collection("compacted", using=alias)
        col.compact()
        col.wait_for_compaction_completed(timeout=60)
        state = col.get_compaction_state()
        assert state.state_name == "Completed" and state.in_executing == 0
    finally:
        connections.disconnect(alias)
    # the background compactor may have merged the segments already; a manual request plans
    # what is left and completes every plan it counted
    stub = client._get_connection()._stub
    cid = client.describe_collection("compacted")["collection_id"]
    resp = stub.ManualCompaction(milvus_pb2.ManualCompactionRequest(collectionID=cid))
    assert resp.status.code == 0 and resp.compactionPlanCount >= 0
    deadline = time.time() + 60
    while True:
        st = stub.GetCompactionState(milvus_pb2.GetCompactionStateRequest(compactionID=resp.compactionID))
        if st.state == 2 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert st.state == 2 and st.completedPlanNo == resp.compactionPlanCount and st.executingPlanNo == 0
    # nothing lost, deleted rows stay deleted
    assert client.query("compacted", filter="", output_fields=["count(*)"])[0]["count(*)"] == 25
    assert client.query("compacted", filter="id < 5") == []
    assert client.search("compacted", [vec(8, 17)], limit=1)[0][0]["id"] == 17
    # MilvusClient's form; nothing left to merge: completed at once with no plan
    job = client.compact("compacted")
    assert client.get_compaction_state(job) == "Completed"
    with pytest.raises(MilvusException, match="clustering"):
        client.compact("compacted", is_clustering=True)
    with pytest.raises(MilvusException, match="unknown"):
        client.get_compaction_state(123456789)


def field_params(client, name, field):
    f = next(f for f in client.describe_collection(name)["fields"] if f["name"] == field)
    return f.get("params", {})


def test_alter_collection_field_max_length_and_capacity(client):
    from pymilvus import DataType
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("title", DataType.VARCHAR, max_length=8)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=2, max_length=4)
    schema.add_field("n", DataType.INT64)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("af", schema=schema, index_params=ip, consistency_level="Strong")

    def row(i, title, tags):
        return {"id": i, "v": [float(i), 0.0, 0.0, 1.0], "title": title, "tags": tags, "n": i}

    client.insert("af", [row(1, "short", ["ab"])])
    with pytest.raises(MilvusException):
        client.insert("af", [row(2, "a" * 20, ["ab"])])
    # raised: longer strings and arrays go in
    client.alter_collection_field("af", "title", field_params={"max_length": 32})
    client.alter_collection_field("af", "tags", field_params={"max_capacity": 4, "max_length": 10})
    assert int(field_params(client, "af", "title")["max_length"]) == 32
    assert int(field_params(client, "af", "tags")["max_capacity"]) == 4
    client.insert("af", [row(2, "a" * 20, ["abcdefgh", "x", "y", "z"])])
    # lowered: stored rows stay, new ones are checked against the new bound
    client.alter_collection_field("af", "title", field_params={"max_length": 4})
    with pytest.raises(MilvusException):
        client.insert("af", [row(3, "toolong", ["ab"])])
    got = {r["id"]: r for r in client.query("af", filter="id > 0", output_fields=["title", "tags"])}
    assert got[2]["title"] == "a" * 20 and list(got[2]["tags"]) == ["abcdefgh", "x", "y", "z"]
    assert sorted(got) == [1, 2]
    # refusals change nothing
    before = client.describe_collection("af")["fields"]
    for field, params, words in [
        ("n", {"max_length": 10}, "non-string"),
        ("title", {"max_length": 70000}, "65535"),
        ("title", {"max_length": "many"}, "integer"),
        ("title", {"max_capacity": 3}, "non-array"),
        ("tags", {"max_capacity": 5000}, "4096"),
        ("title", {"nullable": "true"}, "does not support update"),
        ("missing", {"max_length": 10}, "does not exist"),
    ]:
        with pytest.raises(MilvusException) as e:
            client.alter_collection_field("af", field, field_params=params)
        assert words in str(e.value), (field, params, str(e.value))
    assert client.describe_collection("af")["fields"] == before


def index_params_of(client, name, index):
    return client.describe_index(name, index_name=index)


def test_alter_and_drop_index_properties(client):
    make(client, "ai")
    client.release_collection("ai")
    client.alter_index_properties("ai", index_name="vector", properties={"mmap.enabled": True})
    assert index_params_of(client, "ai", "vector")["mmap.enabled"] == "true"
    # creating the same index again still succeeds (mmap.enabled is no part of the comparison)
    same = client.prepare_index_params()
    same.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_index("ai", same)
    client.drop_index_properties("ai", index_name="vector", property_keys=["mmap.enabled"])
    desc = index_params_of(client, "ai", "vector")
    assert "mmap.enabled" not in desc
    # refusals change nothing
    for kwargs, words in [
        ({"index_name": "vector", "properties": {"M": 8}}, "not configable"),
        ({"index_name": "vector", "properties": {"mmap.enabled": "maybe"}}, "true or false"),
        ({"index_name": "nosuch", "properties": {"mmap.enabled": True}}, "index not found"),
    ]:
        with pytest.raises(MilvusException) as e:
            client.alter_index_properties("ai", **kwargs)
        assert words in str(e.value), (kwargs, str(e.value))
    assert index_params_of(client, "ai", "vector") == desc
    # only while released, as in Milvus; the index still serves searches after a change
    client.load_collection("ai")
    with pytest.raises(MilvusException, match="release the collection first"):
        client.alter_index_properties("ai", index_name="vector", properties={"mmap.enabled": True})
    hits = client.search("ai", [vec(8, 3)], limit=1)
    assert hits[0][0]["id"] == 3
