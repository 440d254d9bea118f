"""Full-text search through the real pymilvus client (2.5 and later: 2.4 has no functions): a
BM25 function from an analyzed VarChar field to a SparseFloatVector field, rows inserted
without it, searched with raw text on growing and indexed data, scores checked against BM25
computed here with the same statistics; filters, deletes, hybrid search with a dense field,
`text_match` filters, the english analyzer's stemming, and Milvus's refusals."""
import math
import re
import time

import pytest
import pymilvus
from pymilvus import AnnSearchRequest, DataType, MilvusException, RRFRanker

pytestmark = pytest.mark.skipif(not hasattr(pymilvus, "Function"),
                                reason="pymilvus before 2.5 has no collection functions")

WORDS = ["vector", "database", "search", "milvus", "quarry", "rust", "index", "graph",
         "token", "text", "query", "score", "fast", "disk", "memory", "cloud"]
N = 300


def doc(i):
    # a deterministic text of 3 to 12 words
    n = 3 + (i * 7) % 10
    return " ".join(WORDS[(i * 31 + j * (i % 5 + 1)) % len(WORDS)] for j in range(n))


def tokens(text):
    return [t.lower() for t in re.split(r"[^0-9A-Za-z]+", text) if t]


def bm25(query, docs, k1=1.2, b=0.75):
    """Scores of every doc id with a common token, by the formula the server implements."""
    toks = {i: tokens(t) for i, t in docs.items()}
    n = len(docs)
    avgdl = sum(len(t) for t in toks.values()) / n
    q = {}
    for t in tokens(query):
        q[t] = q.get(t, 0) + 1
    out = {}
    for i, t in toks.items():
        s = 0.0
        for term, qtf in q.items():
            tf = t.count(term)
            if tf == 0:
                continue
            df = sum(1 for u in toks.values() if term in u)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            s += qtf * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(t) / avgdl))
        if s:
            out[i] = s
    return out


def check(hits, want):
    best = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))
    assert len(hits) == min(len(best), len(hits)) and hits
    for h, (_, score) in zip(hits, best):
        assert h["distance"] == pytest.approx(score, rel=1e-3)
        assert h["distance"] == pytest.approx(want[h["id"]], rel=1e-3)


def schema(client, analyzer=None, bm25_input="text"):
    s = client.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    params = {"analyzer_params": analyzer} if analyzer else {}
    s.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True,
                enable_match=True, **params)
    s.add_field("tag", DataType.VARCHAR, max_length=8)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=4)
    s.add_function(pymilvus.Function(name="text_bm25", function_type=pymilvus.FunctionType.BM25,
                                     input_field_names=[bm25_input],
                                     output_field_names=["sparse"]))
    return s


def indexes(client, **sparse):
    ip = client.prepare_index_params()
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", **sparse)
    ip.add_index("dense", index_type="FLAT", metric_type="L2")
    return ip


def wait_indexed(client, name, rows):
    deadline = time.time() + 60
    while client.describe_index(name, "sparse").get("indexed_rows") != rows:
        assert time.time() < deadline, client.describe_index(name, "sparse")
        time.sleep(0.2)


def row(i):
    return {"id": i, "text": doc(i), "tag": f"t{i % 3}", "dense": [i % 7, 1.0, 0.5, -1.0]}


def test_bm25_search_growing_and_indexed(client):
    client.create_collection("fts", schema=schema(client), index_params=indexes(client),
                             consistency_level="Strong")
    desc = client.describe_collection("fts")
    assert [f["name"] for f in desc["functions"]] == ["text_bm25"]
    docs = {i: doc(i) for i in range(N)}
    client.insert("fts", [row(i) for i in range(N // 2)])
    queries = ["vector search", "rust quarry graph graph", "nothing matches this"]
    half = {i: docs[i] for i in range(N // 2)}
    res = client.search("fts", data=queries, anns_field="sparse", limit=10,
                        search_params={"metric_type": "BM25"}, output_fields=["text"])
    check(res[0], bm25(queries[0], half))
    check(res[1], bm25(queries[1], half))
    assert len(res[2]) == 0
    assert res[0][0]["entity"]["text"] == docs[res[0][0]["id"]]
    # sealed and indexed, then more growing rows: one set of statistics over both
    client.flush("fts")
    wait_indexed(client, "fts", N // 2)
    client.insert("fts", [row(i) for i in range(N // 2, N)])
    res = client.search("fts", data=queries[:2], anns_field="sparse", limit=10)
    check(res[0], bm25(queries[0], docs))
    check(res[1], bm25(queries[1], docs))
    # a filter, an offset
    res = client.search("fts", data=queries[:1], anns_field="sparse", limit=5,
                        filter='tag == "t1"')
    want = {i: s for i, s in bm25(queries[0], docs).items() if i % 3 == 1}
    check(res[0], want)
    full = client.search("fts", data=queries[:1], anns_field="sparse", limit=8)[0]
    page = client.search("fts", data=queries[:1], anns_field="sparse", limit=4, offset=4)[0]
    assert [h["id"] for h in page] == [h["id"] for h in full[4:8]]
    # the output field is not returned, not even by "*"
    got = client.query("fts", filter="id == 3", output_fields=["*"])
    assert "sparse" not in got[0] and got[0]["text"] == docs[3]
    with pytest.raises(MilvusException, match="not allowed to retrieve raw data"):
        client.query("fts", filter="id == 3", output_fields=["sparse"])
    # text_match: rows holding any token of the query, in a query and as a search filter
    got = client.query("fts", filter="text_match(text, 'rust DISK')", output_fields=["id"],
                       limit=1000)
    want = {i for i, t in docs.items() if {"rust", "disk"} & set(tokens(t))}
    assert want and {g["id"] for g in got} == want
    res = client.search("fts", data=queries[:1], anns_field="sparse", limit=5,
                        filter="text_match(text, 'cloud') and tag == 't2'")
    want = {i: s for i, s in bm25(queries[0], docs).items()
            if i % 3 == 2 and "cloud" in tokens(docs[i])}
    check(res[0], want)
    with pytest.raises(MilvusException, match="does not enable match"):
        client.query("fts", filter="text_match(tag, 't1')", limit=3)
    # phrase_match: the words in order, with at most `slop` extra positions between them
    for phrase, slop in [("rust index", 0), ("vector fast", 3)]:
        a, b = phrase.split()
        got = client.query("fts", filter=f"phrase_match(text, '{phrase}', {slop})",
                           output_fields=["id"], limit=1000)
        want = set()
        for i, t in docs.items():
            w = tokens(t)
            if any(w[p] == a and b in w[p + 1:p + 2 + slop] for p in range(len(w))):
                want.add(i)
        assert {g["id"] for g in got} == want
    # a deleted row is no hit
    best = full[0]["id"]
    client.delete("fts", ids=[best])
    hits = client.search("fts", data=queries[:1], anns_field="sparse", limit=10)[0]
    assert best not in [h["id"] for h in hits] and hits
    # upsert: the text changes, so does its row of tokens
    client.upsert("fts", [{**row(7), "text": "zebra zebra"}])
    hits = client.search("fts", data=["zebra"], anns_field="sparse", limit=3)[0]
    assert [h["id"] for h in hits] == [7]
    # hybrid search: BM25 beside a dense request, fused by RRF
    reqs = [AnnSearchRequest(["memory cloud"], "sparse", {"metric_type": "BM25"}, 10),
            AnnSearchRequest([[3.0, 1.0, 0.5, -1.0]], "dense", {"metric_type": "L2"}, 10)]
    fused = {}
    for r in reqs:
        single = client.search("fts", data=r.data, anns_field=r.anns_field, limit=10,
                               search_params=r.param)[0]
        for rank, h in enumerate(single):
            fused[h["id"]] = fused.get(h["id"], 0.0) + 1 / (60 + rank + 1)
    top = client.hybrid_search("fts", reqs, RRFRanker(), limit=3, output_fields=["text"])[0][0]
    assert top["distance"] == pytest.approx(max(fused.values()))


def test_english_analyzer_stems_and_drops_stop_words(client):
    client.create_collection("fts_en", schema=schema(client, {"type": "english"}),
                             index_params=indexes(client, bm25_k1=1.5, bm25_b=0.5),
                             consistency_level="Strong")
    texts = ["The runner runs every morning", "A quiet evening at home",
             "Running shoes for runners", "the the the the"]
    client.insert("fts_en", [{**row(i), "text": t} for i, t in enumerate(texts)])
    hits = client.search("fts_en", data=["running"], anns_field="sparse", limit=10)[0]
    assert sorted(h["id"] for h in hits) == [0, 2]
    # stop words alone find nothing
    assert client.search("fts_en", data=["the"], anns_field="sparse", limit=10)[0] == []


def test_refusals(client):
    # the output field is never inserted by the client
    client.create_collection("fts_bad", schema=schema(client), index_params=indexes(client))
    with pytest.raises(Exception):
        client.insert("fts_bad", [{**row(1), "sparse": {1: 1.0}}])
    # a BM25 output field takes metric BM25, a plain sparse field never does
    ip = client.prepare_index_params()
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    with pytest.raises(MilvusException, match="takes metric_type BM25"):
        client.create_index("fts_bad", ip)
    with pytest.raises(MilvusException, match="search it with text|type must be the same"):
        client.search("fts_bad", data=[{1: 1.0}], anns_field="sparse", limit=3)
    with pytest.raises(MilvusException, match="search with text is for the output field"):
        client.search("fts_bad", data=["words"], anns_field="dense", limit=3)
    # unknown analyzers, BM25 knobs out of range, an input field that is not analyzed
    with pytest.raises(MilvusException, match="unsupported analyzer type"):
        client.create_collection("fts_bad2", schema=schema(client, {"type": "klingon"}))
    with pytest.raises(MilvusException, match="bm25_k1"):
        client.create_collection("fts_bad3", schema=schema(client),
                                 index_params=indexes(client, bm25_k1=5))
    s = client.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=100)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(pymilvus.Function(name="f", function_type=pymilvus.FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
    with pytest.raises(MilvusException, match="enable_analyzer"):
        client.create_collection("fts_bad4", schema=s)
    assert not any(client.has_collection(n) for n in ["fts_bad2", "fts_bad4"])
    # a query text longer than a VarChar can be is refused before it is analyzed
    client.load_collection("fts_bad")
    with pytest.raises(MilvusException, match="more than the maximum of 65535"):
        client.search("fts_bad", data=["word " * 14_000], anns_field="sparse", limit=3)


def test_run_analyzer(client):
    if not hasattr(client, "run_analyzer"):
        pytest.skip("this pymilvus has no run_analyzer")
    import zlib
    one = client.run_analyzer("The Runners ran quickly", analyzer_params={"type": "english"})
    assert list(one.tokens) == ["runner", "ran", "quick"]
    many = client.run_analyzer(["Hello, world", "x"], analyzer_params={"tokenizer": "whitespace"},
                               with_detail=True, with_hash=True)
    assert len(many) == 2
    keys = ["token", "start_offset", "end_offset", "position", "hash"]
    first = [{k: t[k] for k in keys} for t in many[0].tokens]
    assert [t["token"] for t in first] == ["Hello,", "world"]
    assert [(t["start_offset"], t["end_offset"], t["position"]) for t in first] == [(0, 6, 0), (7, 12, 1)]
    for t in first:
        assert t["hash"] == zlib.crc32(t["token"].encode()[:100]) % (2**32 - 1)
    # a field's analyzer (the collection's english field)
    client.create_collection("fts_ra", schema=schema(client, {"type": "english"}),
                             index_params=indexes(client))
    got = client.run_analyzer(["dogs barking"], collection_name="fts_ra", field_name="text")
    assert list(got[0].tokens) == ["dog", "bark"]
    with pytest.raises(MilvusException, match="analyzer runner for field"):
        client.run_analyzer(["x"], collection_name="fts_ra", field_name="tag")
    with pytest.raises(MilvusException, match="unsupported analyzer type"):
        client.run_analyzer("x", analyzer_params={"type": "klingon"})
    # bounded: the number of texts and the size of each
    with pytest.raises(MilvusException, match="at most 16384 texts"):
        client.run_analyzer(["a b"] * 16_385)
    with pytest.raises(MilvusException, match="more than the maximum of 65535"):
        client.run_analyzer("a " * 40_000)
