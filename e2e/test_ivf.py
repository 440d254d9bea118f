"""The IVF index family (IVF_FLAT, IVF_SQ8, IVF_PQ) through the real pymilvus client: the
hello_milvus flow, Milvus's parameter errors, and recall against a FLAT collection."""
import random

import pytest
from pymilvus import DataType, MilvusClient, MilvusException


def clustered(n, dim, seed, clusters=30):
    r = random.Random(seed)
    centers = [[r.uniform(-5, 5) for _ in range(dim)] for _ in range(clusters)]
    return [[x + r.uniform(-0.5, 0.5) for x in centers[i % clusters]] for i in range(n)]


def test_hello_milvus_with_ivf_indexes(server):
    # examples/orm/hello_milvus.py (pymilvus v2.4.x), with a few thousand rows and each IVF type
    from pymilvus import Collection, CollectionSchema, FieldSchema, connections, utility
    connections.connect("default", uri=server.uri)
    fields = [FieldSchema("pk", DataType.VARCHAR, is_primary=True, auto_id=False, max_length=100),
              FieldSchema("random", DataType.DOUBLE),
              FieldSchema("embeddings", DataType.FLOAT_VECTOR, dim=8)]
    schema = CollectionSchema(fields, "hello_milvus is the simplest demo to introduce the APIs")
    col = Collection("hello_milvus", schema, consistency_level="Strong")
    rng = random.Random(19530)
    n = 3000
    rows = [[str(i) for i in range(n)], [rng.random() for _ in range(n)],
            [[rng.random() for _ in range(8)] for _ in range(n)]]
    col.insert(rows)
    col.flush()
    assert col.num_entities == n
    for index in [{"index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 128}},
                  {"index_type": "IVF_SQ8", "metric_type": "L2", "params": {"nlist": 128}},
                  {"index_type": "IVF_PQ", "metric_type": "L2", "params": {"nlist": 128, "m": 4, "nbits": 8}}]:
        col.create_index("embeddings", index)
        assert utility.index_building_progress("hello_milvus")["indexed_rows"] == n
        described = col.index()
        assert described.params["index_type"] == index["index_type"]
        assert described.params["metric_type"] == "L2"
        assert str(described.params["params"]["nlist"] if "params" in described.params
                   else described.params["nlist"]) == "128"
        col.load()
        vectors_to_search = rows[2][-2:]
        search_params = {"metric_type": "L2", "params": {"nprobe": 10}}
        result = col.search(vectors_to_search, "embeddings", search_params, limit=3, output_fields=["random"])
        for q, hits in enumerate(result):
            assert len(hits) == 3
            # a row is its own nearest neighbour (IVF_PQ scores are approximate: it ranks high)
            ids = [h.id for h in hits]
            assert str(n - 2 + q) in ids, (index["index_type"], ids)
            if index["index_type"] == "IVF_FLAT":
                assert ids[0] == str(n - 2 + q) and hits[0].distance == 0.0
        result = col.query(expr="random > 0.5", output_fields=["random", "embeddings"])
        assert result and all(r["random"] > 0.5 for r in result)
        result = col.search(vectors_to_search, "embeddings", search_params, limit=3, expr="random > 0.5",
                            output_fields=["random"])
        for hits in result:
            assert hits and all(h.entity.get("random") > 0.5 for h in hits)
        if index["index_type"] == "IVF_FLAT":
            # deletes reach the indexed segment: the deleted rows are no longer found
            ids = rows[0]
            expr = f'pk in ["{ids[0]}", "{ids[1]}"]'
            assert len(col.query(expr=expr)) == 2
            col.delete(expr)
            assert len(col.query(expr=expr)) == 0
            hits = col.search([rows[2][0]], "embeddings", search_params, limit=3)[0]
            assert ids[0] not in [h.id for h in hits]
        col.release()
        col.drop_index()
        assert not col.has_index()
    utility.drop_collection("hello_milvus")
    connections.disconnect("default")


def _collection(client, name, dim):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=dim)
    client.create_collection(name, schema=schema, consistency_level="Strong")


def _index(client, name, index_type, metric, **params):
    ip = client.prepare_index_params()
    ip.add_index("v", index_type=index_type, metric_type=metric, params=params)
    client.create_index(name, ip)


def test_bad_ivf_params_are_refused_with_milvus_messages(client):
    _collection(client, "c", 8)
    client.insert("c", [{"id": i, "v": v} for i, v in enumerate(clustered(200, 8, 1))])
    client.flush("c")
    for index_type, metric, params, message in [
        # not 0: pymilvus 2.5 drops an index parameter whose value is falsy before sending it
        ("IVF_FLAT", "L2", {"nlist": -1}, "nlist out of range: [1, 65536]"),
        ("IVF_SQ8", "IP", {"nlist": 65537}, "nlist out of range: [1, 65536]"),
        ("IVF_PQ", "L2", {"nlist": 16}, "parameter `m` not found"),
        ("IVF_PQ", "L2", {"nlist": 16, "m": 3}, "dimension must be abled to be divided by `m`, dimension: 8, m: 3"),
        ("IVF_PQ", "L2", {"nlist": 16, "m": 4, "nbits": 17}, "nbits out of range: [1, 16]"),
        ("IVF_FLAT", "HAMMING", {"nlist": 16}, "HAMMING"),
    ]:
        with pytest.raises(MilvusException) as e:
            _index(client, "c", index_type, metric, **params)
        assert message in str(e.value), (index_type, params, str(e.value))
        assert client.list_indexes("c") == []
    _index(client, "c", "IVF_FLAT", "L2", nlist=16)
    client.load_collection("c")
    q = clustered(1, 8, 1)
    for nprobe in [0, 65537, -1]:
        with pytest.raises(MilvusException) as e:
            client.search("c", q, limit=3, search_params={"params": {"nprobe": nprobe}})
        assert "nprobe" in str(e.value), str(e.value)
    assert len(client.search("c", q, limit=3, search_params={"params": {"nprobe": 65536}})[0]) == 3


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_ivf_recall_against_flat(client, metric):
    dim, n, nlist = 16, 3000, 32
    data = clustered(n, dim, 7)
    for name in ["flat", "ivf_flat", "ivf_sq8", "ivf_pq"]:
        _collection(client, name, dim)
        client.insert(name, [{"id": i, "v": v} for i, v in enumerate(data)])
        client.flush(name)
    _index(client, "flat", "FLAT", metric)
    _index(client, "ivf_flat", "IVF_FLAT", metric, nlist=nlist)
    _index(client, "ivf_sq8", "IVF_SQ8", metric, nlist=nlist)
    _index(client, "ivf_pq", "IVF_PQ", metric, nlist=nlist, m=8, nbits=8)
    for name in ["flat", "ivf_flat", "ivf_sq8", "ivf_pq"]:
        client.load_collection(name)
    queries = clustered(20, dim, 99)
    k = 10

    def search(name, nprobe):
        return client.search(name, queries, limit=k, search_params={"metric_type": metric, "params": {"nprobe": nprobe}})

    exact = client.search("flat", queries, limit=k, search_params={"metric_type": metric})
    # every list probed: IVF_FLAT is FLAT, ids and scores
    full = search("ivf_flat", nlist)
    for e, f in zip(exact, full):
        assert [h["id"] for h in f] == [h["id"] for h in e]
        assert [h["distance"] for h in f] == pytest.approx([h["distance"] for h in e], rel=1e-5, abs=1e-5)

    def recall(result):
        found = sum(len({h["id"] for h in r} & {h["id"] for h in e}) for r, e in zip(result, exact))
        return found / (len(queries) * k)

    one, eight = recall(search("ivf_flat", 1)), recall(search("ivf_flat", 8))
    print(metric, "recall nprobe 1/8", one, eight)
    # one probed cell misses neighbours (the index, not a scan, answers); more cells find them
    assert one < 1.0 and one <= eight
    assert eight > 0.9
    # quantised scores without re-ranking: recall as docs/compatibility.md reports it
    sq8, pq = recall(search("ivf_sq8", nlist)), recall(search("ivf_pq", nlist))
    print(metric, "IVF_SQ8", sq8, "IVF_PQ", pq)
    assert sq8 > (0.6 if metric == "COSINE" else 0.85), sq8
    assert pq > (0.1 if metric == "COSINE" else 0.5), pq
    # filters: probe the lists, skip refused rows
    filtered = client.search("ivf_flat", queries, limit=k, filter="id >= 1500",
                             search_params={"metric_type": metric, "params": {"nprobe": nlist}})
    exact_filtered = client.search("flat", queries, limit=k, filter="id >= 1500", search_params={"metric_type": metric})
    for f, e in zip(filtered, exact_filtered):
        assert f and all(h["id"] >= 1500 for h in f)
        assert [h["id"] for h in f] == [h["id"] for h in e]
    # range search keeps working: the hits inside the radius of the FLAT answer
    d = exact[0][k // 2]["distance"]
    rng = {"radius": d * 1.5 if metric == "L2" else d - 0.2}
    ranged = client.search("ivf_flat", queries[:1], limit=k,
                           search_params={"metric_type": metric, "params": {"nprobe": nlist, **rng}})
    exact_ranged = client.search("flat", queries[:1], limit=k, search_params={"metric_type": metric, "params": rng})
    assert [h["id"] for h in ranged[0]] == [h["id"] for h in exact_ranged[0]]
    # growing rows (after the flush) are searched brute force next to the IVF segment
    scale = 1.0 if metric == "L2" else 100.0
    client.insert("ivf_flat", [{"id": n + 1, "v": [x * scale for x in queries[0]]}])
    hit = client.search("ivf_flat", queries[:1], limit=1, search_params={"metric_type": metric, "params": {"nprobe": 1}})
    assert hit[0][0]["id"] == n + 1
    # describe_index shows the type and parameters
    desc = client.describe_index("ivf_pq", "v")
    assert desc["index_type"] == "IVF_PQ" and desc["metric_type"] == metric
    assert (str(desc["nlist"]), str(desc["m"]), str(desc["nbits"])) == (str(nlist), "8", "8")
