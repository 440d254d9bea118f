"""The Milvus user flows of the standalone issue, driven by the real pymilvus client."""
import random

import pytest
from pymilvus import DataType, MilvusClient, MilvusException


def vec(dim, seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(dim)]


def test_quick_setup_insert_search_query(client):
    client.create_collection("quick", dimension=8)
    assert client.has_collection("quick")
    assert "quick" in client.list_collections()
    rows = [{"id": i, "vector": vec(8, i), "color": "red" if i % 2 else "blue", "n": i} for i in range(100)]
    res = client.insert("quick", rows)
    assert res["insert_count"] == 100
    hits = client.search("quick", [vec(8, 7)], limit=3, output_fields=["color", "n"])
    assert len(hits) == 1 and len(hits[0]) == 3
    assert hits[0][0]["id"] == 7
    assert hits[0][0]["entity"]["color"] == "red"
    assert hits[0][0]["entity"]["n"] == 7
    assert hits[0][0]["distance"] == pytest.approx(1.0, abs=1e-4)
    got = client.query("quick", filter='color == "blue" and n < 10', output_fields=["n"])
    assert sorted(r["n"] for r in got) == [0, 2, 4, 6, 8]
    assert client.query("quick", filter="", output_fields=["count(*)"])[0]["count(*)"] == 100
    got = client.get("quick", ids=[3, 4])
    assert [r["id"] for r in got] == [3, 4]
    assert got[0]["color"] == "red" and len(got[0]["vector"]) == 8
    client.drop_collection("quick")
    assert not client.has_collection("quick")


def docs_schema():
    s = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("title", DataType.VARCHAR, max_length=64)
    s.add_field("year", DataType.INT32)
    s.add_field("emb", DataType.FLOAT_VECTOR, dim=16)
    return s


def make_docs(client, n=300):
    client.create_collection("docs", schema=docs_schema(), consistency_level="Strong")
    rows = [{"title": ("A" if i % 3 == 0 else "B") + f"-{i}", "year": 1980 + i % 40, "emb": vec(16, i), "extra": i} for i in range(n)]
    res = client.insert("docs", rows)
    return res["ids"]


def test_schema_flow_with_flush_index_delete_upsert(client):
    ids = make_docs(client)
    assert len(ids) == 300 and len(set(ids)) == 300
    desc = client.describe_collection("docs")
    assert [f["name"] for f in desc["fields"]] == ["id", "title", "year", "emb"]
    assert desc["auto_id"] and desc["enable_dynamic_field"]
    client.flush("docs")
    ip = client.prepare_index_params()
    ip.add_index("emb", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
    client.create_index("docs", ip)
    idx = client.describe_index("docs", "emb")
    assert idx["index_type"] == "HNSW" and idx["metric_type"] == "COSINE"
    client.load_collection("docs")
    assert client.get_load_state("docs")["state"].name == "Loaded"
    # growing rows (after the flush) are searchable next to the indexed segment
    more = client.insert("docs", [{"title": "A-new", "year": 2020, "emb": vec(16, 999)}])
    hits = client.search("docs", [vec(16, 999)], limit=5, filter='year >= 2000 and title like "A%"',
                         output_fields=["title", "year"], search_params={"params": {"ef": 64}})
    assert hits[0][0]["id"] == more["ids"][0]
    assert all(h["entity"]["year"] >= 2000 and h["entity"]["title"].startswith("A") for h in hits[0])
    # delete by filter, on sealed data, is visible at once and counted
    before = client.query("docs", filter="year < 1990", output_fields=["count(*)"])[0]["count(*)"]
    assert before > 0
    res = client.delete("docs", filter="year < 1990")
    assert res["delete_count"] == before
    assert client.query("docs", filter="year < 1990", output_fields=["count(*)"])[0]["count(*)"] == 0
    # upsert replaces
    target = ids[-1]
    client.upsert("docs", [{"id": target, "title": "upserted", "year": 1999, "emb": vec(16, 1)}])
    got = client.get("docs", ids=[target])
    assert len(got) == 1 and got[0]["title"] == "upserted"
    total = client.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"]
    assert total == 301 - before
    assert int(client.get_collection_stats("docs")["row_count"]) == total
    # multiple query vectors, limit/offset and query paging by pk
    hits = client.search("docs", [vec(16, 5), vec(16, 6)], limit=4)
    assert len(hits) == 2 and all(len(h) == 4 for h in hits)
    page = client.query("docs", filter="year >= 1990", output_fields=["id"], limit=5, offset=2)
    assert len(page) == 5 and [r["id"] for r in page] == sorted(r["id"] for r in page)
    client.release_collection("docs")
    with pytest.raises(MilvusException):
        client.search("docs", [vec(16, 1)], limit=1)


def test_bad_input_gets_clear_errors_and_changes_nothing(client):
    make_docs(client, n=10)
    client.create_index("docs", _autoindex(client))
    client.load_collection("docs")
    count = lambda: client.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"]
    with pytest.raises(MilvusException, match="dim"):
        client.insert("docs", [{"title": "x", "year": 1, "emb": vec(15, 1)}])
    with pytest.raises(MilvusException):
        client.insert("docs", [{"title": "x", "emb": vec(16, 1)}])  # missing year
    with pytest.raises(MilvusException, match="max length"):
        client.insert("docs", [{"title": "x" * 65, "year": 1, "emb": vec(16, 1)}])
    with pytest.raises(MilvusException, match="cannot parse expression|position"):
        client.query("docs", filter="year >>> 3", output_fields=["id"])
    with pytest.raises(MilvusException, match="collection not found"):
        client.insert("nope", [{"title": "x", "year": 1, "emb": vec(16, 1)}])
    other = MilvusClient.create_schema(auto_id=False)
    other.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=8)
    other.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    with pytest.raises(MilvusException):
        client.create_collection("docs", schema=other)
    assert count() == 10
    assert client.describe_collection("docs")["fields"][0]["name"] == "id"


def _autoindex(client):
    ip = client.prepare_index_params()
    ip.add_index("emb", index_type="AUTOINDEX", metric_type="L2")
    return ip


def test_varchar_pk_json_and_flat(client):
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=16)
    s.add_field("meta", DataType.JSON)
    s.add_field("flag", DataType.BOOL)
    s.add_field("score", DataType.DOUBLE)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection("kv", schema=s)
    rows = [{"pk": f"k{i}", "meta": {"k": i, "tags": ["x", f"t{i}"]}, "flag": i % 2 == 0, "score": i / 10, "v": vec(4, i)} for i in range(20)]
    client.insert("kv", rows)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_index("kv", ip)
    client.load_collection("kv")
    got = client.query("kv", filter='meta["k"] > 15 and flag == true', output_fields=["pk", "meta"])
    assert sorted(r["pk"] for r in got) == ["k16", "k18"]
    assert got[0]["meta"]["tags"][0] == "x"
    got = client.get("kv", ids=["k3"])
    assert got[0]["score"] == pytest.approx(0.3)
    hits = client.search("kv", [vec(4, 4)], limit=2, output_fields=["pk"])
    assert hits[0][0]["pk"] == "k4" and hits[0][0]["distance"] == pytest.approx(0.0, abs=1e-6)
    res = client.delete("kv", ids=["k1", "k2", "nope"])
    assert res["delete_count"] == 2
    assert client.query("kv", filter='json_contains(meta["tags"], "t1")', output_fields=["pk"]) == []


def test_varchar_auto_id(client):
    """A VarChar primary key with auto_id gets the decimal text of generated ids (as Milvus)."""
    s = MilvusClient.create_schema(auto_id=True)
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=100)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("auto_str", schema=s, index_params=ip, consistency_level="Strong")
    assert client.describe_collection("auto_str")["auto_id"]
    ids = client.insert("auto_str", [{"v": vec(4, i)} for i in range(10)])["ids"]
    assert len(set(ids)) == 10 and all(isinstance(i, str) and int(i) > 0 for i in ids)
    got = client.get("auto_str", ids=ids[3:5])
    assert sorted(g["pk"] for g in got) == sorted(ids[3:5])
    hit = client.search("auto_str", [vec(4, 7)], limit=1)[0][0]
    assert hit["pk"] == ids[7]
    with pytest.raises(MilvusException):
        client.insert("auto_str", [{"pk": "mine", "v": vec(4, 0)}])


def test_orm_hello_milvus(server):
    from pymilvus import Collection, CollectionSchema, FieldSchema, connections, utility
    connections.connect("default", uri=server.uri)
    fields = [FieldSchema("pk", DataType.INT64, is_primary=True, auto_id=False),
              FieldSchema("random", DataType.DOUBLE),
              FieldSchema("embeddings", DataType.FLOAT_VECTOR, dim=8)]
    schema = CollectionSchema(fields, "hello_milvus")
    col = Collection("hello_milvus", schema, consistency_level="Strong")
    assert utility.has_collection("hello_milvus")
    n = 500
    col.insert([list(range(n)), [random.random() for _ in range(n)], [vec(8, i) for i in range(n)]])
    col.flush()
    assert col.num_entities == n
    col.create_index("embeddings", {"index_type": "HNSW", "metric_type": "L2", "params": {"M": 8, "efConstruction": 64}})
    col.load()
    res = col.search([vec(8, 10)], "embeddings", {"metric_type": "L2", "params": {"ef": 32}}, limit=3, expr="random > -1", output_fields=["random"])
    assert res[0][0].id == 10
    assert len(col.query(expr="pk in [1, 2, 3]", output_fields=["random"])) == 3
    col.delete("pk in [1, 2]")
    assert len(col.query(expr="pk in [1, 2, 3]")) == 1
    col.release()
    utility.drop_collection("hello_milvus")
    connections.disconnect("default")
