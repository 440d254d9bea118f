"""BinaryVector, Float16Vector, BFloat16Vector and Int8Vector (pymilvus 2.6) through the real pymilvus client: inserts,
outputs in the byte form pymilvus reads, exact searches checked against a brute-force
computation (HAMMING, JACCARD, L2, IP, COSINE), several vector fields with one index each, and
Milvus's errors for type/metric/index mismatches."""
import random
import time

import numpy as np
import pytest
from pymilvus import DataType, MilvusException


def as_bytes(value, np_dtype):
    """A vector as pymilvus returns it (bytes in a list, a list of numpy scalars, ...) as bytes."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], (bytes, bytearray)):
        return bytes(value[0])
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return np.asarray(value).astype(np_dtype).tobytes()


def hamming(a, b):
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b))


def jaccard(a, b):
    both = sum(bin(x & y).count("1") for x, y in zip(a, b))
    either = sum(bin(x | y).count("1") for x, y in zip(a, b))
    return 0.0 if either == 0 else 1.0 - both / either


def bf16_bytes(v32):
    """bfloat16 bytes of float32 values, by truncation (pymilvus takes bytes for bf16 fields)."""
    return (np.asarray(v32, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()


def bf16_values(raw):
    return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)


def check_exact(hits, expected, close=False):
    """The hits are a top-k of `expected` (id -> distance, smaller better): the distances are
    the k smallest, and each hit's distance is its row's."""
    got = [(h["id"], h["distance"]) for h in hits]
    assert len(got) == min(len(expected), len(got)) and got
    best = sorted(expected.values())[: len(got)]
    for (pk, d), want in zip(got, best):
        if close:
            assert d == pytest.approx(expected[pk], rel=2e-3, abs=2e-3)
            assert d == pytest.approx(want, rel=2e-3, abs=2e-3)
        else:
            assert d == pytest.approx(expected[pk], abs=1e-5), (pk, d, expected[pk])
            assert d == pytest.approx(want, abs=1e-5)


def wait_indexed(client, name, rows):
    """Waits until every index of the collection covers `rows` sealed rows (so that searches
    go through the built indexes, not only exact search)."""
    deadline = time.time() + 60
    for index in client.list_indexes(name):
        while client.describe_index(name, index).get("indexed_rows") != rows:
            assert time.time() < deadline, client.describe_index(name, index)
            time.sleep(0.2)


def _binary_collection(client, name, dim):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tag", DataType.VARCHAR, max_length=8)
    schema.add_field("b1", DataType.BINARY_VECTOR, dim=dim)
    schema.add_field("b2", DataType.BINARY_VECTOR, dim=dim)
    schema.add_field("b3", DataType.BINARY_VECTOR, dim=dim)
    ip = client.prepare_index_params()
    ip.add_index("b1", index_type="BIN_FLAT", metric_type="HAMMING")
    ip.add_index("b2", index_type="AUTOINDEX", metric_type="JACCARD")
    ip.add_index("b3", index_type="BIN_IVF_FLAT", metric_type="HAMMING", params={"nlist": 4})
    client.create_collection(name, schema=schema, index_params=ip, consistency_level="Strong")


def test_binary_vectors_searched_exactly_with_hamming_and_jaccard(client):
    dim, n = 64, 300
    _binary_collection(client, "bins", dim)
    rng = random.Random(7)
    rows = []
    for i in range(n):
        # sparse-ish bits so that JACCARD distances vary
        b = bytes(rng.getrandbits(8) & rng.getrandbits(8) for _ in range(dim // 8))
        rows.append({"id": i, "tag": "even" if i % 2 == 0 else "odd", "b1": b, "b2": b, "b3": b})
    client.insert("bins", rows[: n // 2])
    client.flush("bins")  # one sealed segment (indexed), one growing
    wait_indexed(client, "bins", n // 2)
    client.insert("bins", rows[n // 2:])
    queries = [rows[5]["b1"], rows[200]["b1"], bytes(rng.getrandbits(8) for _ in range(dim // 8))]
    for field, metric, dist, params in [("b1", "HAMMING", hamming, {}),
                                        ("b2", "JACCARD", jaccard, {}),
                                        ("b3", "HAMMING", hamming, {"nprobe": 4})]:
        res = client.search("bins", data=queries, anns_field=field, limit=10,
                            search_params={"metric_type": metric, "params": params},
                            output_fields=[field, "tag"])
        assert len(res) == 3
        for q, hits in zip(queries, res):
            check_exact(hits, {r["id"]: dist(q, r[field]) for r in rows})
            for h in hits:
                assert as_bytes(h["entity"][field], np.uint8) == rows[h["id"]][field]
        # self-matches first, at distance 0
        assert res[0][0]["distance"] == 0.0 and res[1][0]["distance"] == 0.0
        # with a filter
        res = client.search("bins", data=queries[:1], anns_field=field, limit=5,
                            filter='tag == "odd"', search_params={"metric_type": metric, "params": params})
        check_exact(res[0], {r["id"]: dist(queries[0], r[field]) for r in rows if r["id"] % 2 == 1})
    # range search: HAMMING distances in [range_filter, radius)
    res = client.search("bins", data=queries[:1], anns_field="b1", limit=100,
                        search_params={"metric_type": "HAMMING",
                                       "params": {"radius": 20, "range_filter": 1}})
    want = sorted(i for i, r in enumerate(rows) if 1 <= hamming(queries[0], r["b1"]) < 20)
    assert 0 < len(want) < 100
    assert sorted(h["id"] for h in res[0]) == want
    # hybrid search over two binary fields (RRF): row 5 is first in both
    from pymilvus import AnnSearchRequest, RRFRanker
    reqs = [AnnSearchRequest([queries[0]], "b1", {"metric_type": "HAMMING"}, 10),
            AnnSearchRequest([queries[0]], "b2", {"metric_type": "JACCARD"}, 10)]
    top = client.hybrid_search("bins", reqs, RRFRanker(), limit=3)[0][0]
    assert top["id"] == 5 and top["distance"] == pytest.approx(2 / 61)
    # query, upsert and delete are unchanged
    got = client.query("bins", filter="id in [3, 250]", output_fields=["b1", "b3"])
    assert sorted(g["id"] for g in got) == [3, 250]
    for g in got:
        assert as_bytes(g["b1"], np.uint8) == rows[g["id"]]["b1"]
        assert as_bytes(g["b3"], np.uint8) == rows[g["id"]]["b3"]
    new = bytes([0xFF] * (dim // 8))
    client.upsert("bins", [{"id": 3, "tag": "x", "b1": new, "b2": new, "b3": new}])
    hit = client.search("bins", data=[new], anns_field="b1", limit=1,
                        search_params={"metric_type": "HAMMING"})[0][0]
    assert hit["id"] == 3 and hit["distance"] == 0.0
    client.delete("bins", filter="id == 3")
    hit = client.search("bins", data=[new], anns_field="b1", limit=1,
                        search_params={"metric_type": "HAMMING"})[0][0]
    assert hit["id"] != 3
    desc = {i["field_name"]: i for i in
            (client.describe_index("bins", n) for n in client.list_indexes("bins"))}
    assert desc["b1"]["index_type"] == "BIN_FLAT" and desc["b1"]["metric_type"] == "HAMMING"
    assert desc["b2"]["metric_type"] == "JACCARD"


def _raises(call, *texts):
    with pytest.raises(Exception) as e:
        call()
    if isinstance(e.value, MilvusException):
        assert any(t in str(e.value) for t in texts), str(e.value)
    return e.value


def test_binary_vector_errors(client):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("b", DataType.BINARY_VECTOR, dim=12)
    _raises(lambda: client.create_collection("odd", schema=schema), "multiple of 8")
    assert not client.has_collection("odd")

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("b", DataType.BINARY_VECTOR, dim=16)
    schema.add_field("f", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection("c", schema=schema, consistency_level="Strong")

    def index(field, index_type, metric):
        ip = client.prepare_index_params()
        ip.add_index(field, index_type=index_type, metric_type=metric)
        client.create_index("c", ip)

    _raises(lambda: index("b", "HNSW", "HAMMING"), "can't build with this index HNSW")
    _raises(lambda: index("b", "BIN_FLAT", "L2"), "metric type L2 not found or not supported")
    _raises(lambda: index("f", "BIN_FLAT", "L2"), "can't build with this index BIN_FLAT")
    _raises(lambda: index("f", "FLAT", "HAMMING"), "metric type HAMMING not found or not supported")
    assert client.list_indexes("c") == []
    index("b", "BIN_FLAT", "JACCARD")
    index("f", "FLAT", "L2")
    client.load_collection("c")
    # a wrong byte length changes nothing
    _raises(lambda: client.insert("c", [{"id": 1, "b": b"\x01\x02\x03", "f": [0.0, 1.0]}]),
            "bytes of vector data", "dim")
    assert client.query("c", filter="id >= 0", output_fields=["count(*)"])[0]["count(*)"] == 0
    client.insert("c", [{"id": 1, "b": b"\x01\x02", "f": [0.0, 1.0]}])
    _raises(lambda: client.search("c", data=[[0.5] * 16], anns_field="b", limit=1),
            "vector type must be the same")
    # (pymilvus 2.6 sends the bytes as the field's type: then they are not whole f32 values)
    _raises(lambda: client.search("c", data=[b"\x01\x02"], anns_field="f", limit=1),
            "vector type must be the same", "whole number of little-endian f32")
    _raises(lambda: client.search("c", data=[b"\x01\x02"], anns_field="b", limit=1,
                                  search_params={"metric_type": "HAMMING"}), "metric type not match")
    _raises(lambda: client.search("c", data=[b"\x01\x02\x03"], anns_field="b", limit=1),
            "dimension")
    hit = client.search("c", data=[b"\x01\x02"], anns_field="b", limit=1)[0][0]
    assert hit["id"] == 1 and hit["distance"] == 0.0


def test_float16_and_bfloat16_vectors(client):
    dim, n = 8, 400
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("h", DataType.FLOAT16_VECTOR, dim=dim)
    schema.add_field("hf", DataType.FLOAT16_VECTOR, dim=dim)
    schema.add_field("bf", DataType.BFLOAT16_VECTOR, dim=dim)
    ip = client.prepare_index_params()
    ip.add_index("h", index_type="HNSW", metric_type="L2", params={"M": 16, "efConstruction": 200})
    ip.add_index("hf", index_type="FLAT", metric_type="IP")
    ip.add_index("bf", index_type="FLAT", metric_type="COSINE")
    client.create_collection("halves", schema=schema, index_params=ip, consistency_level="Strong")
    rng = np.random.default_rng(3)
    v32 = rng.standard_normal((n, dim)).astype(np.float32)
    h = v32.astype(np.float16)
    bf = [bf16_bytes(v) for v in v32]
    rows = [{"id": i, "h": h[i], "hf": h[i], "bf": bf[i]} for i in range(n)]
    client.insert("halves", rows[:200])
    client.flush("halves")
    wait_indexed(client, "halves", 200)
    client.insert("halves", rows[200:])
    hw = h.astype(np.float32)
    bw = np.stack([bf16_values(b) for b in bf])

    # float16 queries (the Float16Vector placeholder)
    q = h[[10, 333]]
    res = client.search("halves", data=list(q), anns_field="h", limit=5,
                        search_params={"metric_type": "L2", "params": {"ef": 64}}, output_fields=["h"])
    for qi, hits in zip(q.astype(np.float32), res):
        check_exact(hits, {i: float(((hw[i] - qi) ** 2).sum()) for i in range(n)}, close=True)
        for x in hits:
            assert as_bytes(x["entity"]["h"], np.float16) == h[x["id"]].tobytes()
    assert res[0][0]["id"] == 10 and res[1][0]["id"] == 333
    res = client.search("halves", data=list(q), anns_field="hf", limit=5,
                        search_params={"metric_type": "IP"})
    for qi, hits in zip(q.astype(np.float32), res):
        check_exact([{"id": x["id"], "distance": -x["distance"]} for x in hits],
                    {i: -float(hw[i] @ qi) for i in range(n)}, close=True)

    # float32 queries on a bfloat16 field (widened there)
    q32 = bw[[7, 250]]
    res = client.search("halves", data=[list(map(float, v)) for v in q32], anns_field="bf", limit=5,
                        search_params={"metric_type": "COSINE"}, output_fields=["bf"])
    norms = np.linalg.norm(bw, axis=1)
    for qi, hits in zip(q32, res):
        cos = {i: float(bw[i] @ qi / (norms[i] * np.linalg.norm(qi))) for i in range(n)}
        check_exact([{"id": x["id"], "distance": -x["distance"]} for x in hits],
                    {i: -c for i, c in cos.items()}, close=True)
        for x in hits:
            assert as_bytes(x["entity"]["bf"], np.uint16) == bf[x["id"]]
    assert res[0][0]["id"] == 7 and res[1][0]["id"] == 250

    # outputs of query in the byte form
    got = client.query("halves", filter="id in [1, 399]", output_fields=["h", "bf"])
    assert sorted(g["id"] for g in got) == [1, 399]
    for g in got:
        assert as_bytes(g["h"], np.float16) == h[g["id"]].tobytes()
        assert as_bytes(g["bf"], np.uint16) == bf[g["id"]]

    # errors: the wrong dimension, a query of another vector type, a binary metric
    bad = {"id": 1000, "h": h[0][:7], "hf": h[0], "bf": bf[0]}
    _raises(lambda: client.insert("halves", [bad]), "dim", "bytes of vector data")
    _raises(lambda: client.search("halves", data=[h[0]], anns_field="bf", limit=1),
            "vector type must be the same")
    _raises(lambda: client.search("halves", data=[h[0]], anns_field="h", limit=1,
                                  search_params={"metric_type": "HAMMING"}), "metric type not match")
    assert client.query("halves", filter="id >= 0", output_fields=["count(*)"])[0]["count(*)"] == n


@pytest.mark.skipif(not hasattr(DataType, "INT8_VECTOR"), reason="pymilvus before 2.6 has no Int8Vector")
def test_int8_vectors(client):
    dim, n = 16, 300
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.INT8_VECTOR, dim=dim)
    schema.add_field("w", DataType.INT8_VECTOR, dim=dim)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 16, "efConstruction": 200})
    ip.add_index("w", index_type="AUTOINDEX", metric_type="IP")
    client.create_collection("int8s", schema=schema, index_params=ip, consistency_level="Strong")
    rng = np.random.default_rng(5)
    v = rng.integers(-128, 128, size=(n, dim), dtype=np.int8)
    rows = [{"id": i, "v": v[i], "w": v[i]} for i in range(n)]
    client.insert("int8s", rows[:150])
    client.flush("int8s")
    wait_indexed(client, "int8s", 150)
    client.insert("int8s", rows[150:])
    vw = v.astype(np.float32)
    q = v[[4, 222]]
    res = client.search("int8s", data=list(q), anns_field="v", limit=5,
                        search_params={"metric_type": "L2", "params": {"ef": 128}},
                        output_fields=["v"])
    for qi, hits in zip(q.astype(np.float32), res):
        check_exact(hits, {i: float(((vw[i] - qi) ** 2).sum()) for i in range(n)}, close=True)
        for x in hits:
            assert as_bytes(x["entity"]["v"], np.int8) == v[x["id"]].tobytes()
    assert res[0][0]["id"] == 4 and res[1][0]["id"] == 222
    res = client.search("int8s", data=list(q), anns_field="w", limit=5,
                        search_params={"metric_type": "IP", "params": {"ef": 300}})
    for qi, hits in zip(q.astype(np.float32), res):
        check_exact([{"id": x["id"], "distance": -x["distance"]} for x in hits],
                    {i: -float(vw[i] @ qi) for i in range(n)}, close=True)
    got = client.query("int8s", filter="id in [0, 299]", output_fields=["v"])
    assert {g["id"]: as_bytes(g["v"], np.int8) for g in got} == {0: v[0].tobytes(), 299: v[299].tobytes()}
    # Milvus builds Int8Vector fields with HNSW only; the query type must match
    bad = client.prepare_index_params()
    bad.add_index("v", index_type="IVF_FLAT", metric_type="L2", params={"nlist": 4})
    schema2 = client.create_schema(auto_id=False)
    schema2.add_field("id", DataType.INT64, is_primary=True)
    schema2.add_field("v", DataType.INT8_VECTOR, dim=dim)
    _raises(lambda: client.create_collection("int8_bad", schema=schema2, index_params=bad),
            "can't build with this index IVF_FLAT")
    _raises(lambda: client.search("int8s", data=[[0.5] * dim], anns_field="v", limit=1),
            "vector type must be the same")


def test_packed_vectors_survive_a_restart(server):
    from pymilvus import MilvusClient
    c = MilvusClient(server.uri)
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("b", DataType.BINARY_VECTOR, dim=16)
    schema.add_field("h", DataType.FLOAT16_VECTOR, dim=4)
    schema.add_field("bf", DataType.BFLOAT16_VECTOR, dim=4)
    ip = c.prepare_index_params()
    ip.add_index("b", index_type="BIN_IVF_FLAT", metric_type="JACCARD", params={"nlist": 2})
    ip.add_index("h", index_type="HNSW", metric_type="COSINE")
    ip.add_index("bf", index_type="IVF_FLAT", metric_type="L2", params={"nlist": 2})
    c.create_collection("p", schema=schema, index_params=ip, consistency_level="Strong")
    rng = np.random.default_rng(11)
    v32 = rng.standard_normal((60, 4)).astype(np.float32)
    rows = [{"id": i, "b": bytes([i, 255 - i]), "h": v32[i].astype(np.float16),
             "bf": bf16_bytes(v32[i])} for i in range(60)]
    c.insert("p", rows[:40])
    c.flush("p")
    wait_indexed(c, "p", 40)
    c.insert("p", rows[40:])
    c.close()
    server.stop()
    server.start()
    c = MilvusClient(server.uri)
    got = c.query("p", filter="id in [3, 50]", output_fields=["b", "h", "bf"])
    assert sorted(g["id"] for g in got) == [3, 50]
    for g in got:
        r = rows[g["id"]]
        assert as_bytes(g["b"], np.uint8) == r["b"]
        assert as_bytes(g["h"], np.float16) == r["h"].tobytes()
        assert as_bytes(g["bf"], np.uint16) == r["bf"]
    for field, q, params in [("b", rows[7]["b"], {"metric_type": "JACCARD", "params": {"nprobe": 2}}),
                             ("h", rows[7]["h"], {"metric_type": "COSINE"}),
                             ("bf", list(map(float, bf16_values(rows[7]["bf"]))),
                              {"metric_type": "L2", "params": {"nprobe": 2}})]:
        hit = c.search("p", data=[q], anns_field=field, limit=1, search_params=params)[0][0]
        assert hit["id"] == 7, field
    c.close()
