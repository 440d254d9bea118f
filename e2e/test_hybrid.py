"""Hybrid search (several ann searches fused by RRFRanker or WeightedRanker) and grouping search
(group_by_field, group_size, strict_group_size) through the real pymilvus client, checked
against the client's own single searches and scores computed here; then Milvus's errors."""
import math
import random

import pytest
from pymilvus import AnnSearchRequest, DataType, MilvusClient, MilvusException, RRFRanker, WeightedRanker
from pymilvus import __version__ as PYMILVUS

N, DIM = 300, 4
V25 = tuple(int(x) for x in PYMILVUS.split(".")[:2]) >= (2, 5)


def row(i):
    r = random.Random(i)
    return {"id": i, "doc": i % 9, "cat": f"c{i % 4}", "price": float(i),
            "dense": [r.uniform(-1, 1) for _ in range(DIM)],
            "dense2": [r.uniform(-1, 1) for _ in range(DIM)]}


@pytest.fixture
def coll(client):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("doc", DataType.INT64)
    schema.add_field("cat", DataType.VARCHAR, max_length=16)
    schema.add_field("price", DataType.FLOAT)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("dense2", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="L2")
    index.add_index("dense2", index_type="FLAT", metric_type="IP")
    client.create_collection("h", schema=schema, index_params=index, consistency_level="Strong")
    client.insert("h", [row(i) for i in range(N // 2)])
    client.flush("h")  # a sealed segment and growing rows
    client.insert("h", [row(i) for i in range(N // 2, N)])
    return "h"


Q1, Q2 = [0.2, -0.4, 0.1, 0.3], [0.5, 0.5, -0.2, 0.1]


def single(client, field, q, limit, expr=""):
    metric = "L2" if field == "dense" else "IP"
    res = client.search("h", data=[q], anns_field=field, limit=limit, filter=expr,
                        search_params={"metric_type": metric})
    return [(h["id"], h["distance"]) for h in res[0]], metric


def norm(metric, s):
    if metric == "COSINE":
        return (1 + s) / 2
    if metric == "IP":
        return 0.5 + math.atan(s) / math.pi
    return 1 - 2 * math.atan(s) / math.pi


def fused(lists, score, descending=True):
    total, first = {}, []
    for i, (hits, metric) in enumerate(lists):
        for rank, (pk, s) in enumerate(hits):
            if pk not in total:
                total[pk] = 0.0
                first.append(pk)
            total[pk] += score(i, rank, s, metric)
    out = sorted(total.items(), key=lambda kv: ((-kv[1] if descending else kv[1]), kv[0]))
    return out


def check(got, want):
    assert [h["id"] for h in got] == [pk for pk, _ in want]
    for h, (_, s) in zip(got, want):
        assert h["distance"] == pytest.approx(s, rel=1e-4, abs=1e-5)


def test_hybrid_rrf_and_weighted_match_the_single_searches(client, coll):
    a, b = single(client, "dense", Q1, 20), single(client, "dense2", Q2, 15)
    reqs = [AnnSearchRequest([Q1], "dense", {"metric_type": "L2"}, 20),
            AnnSearchRequest([Q2], "dense2", {"metric_type": "IP"}, 15)]
    # RRF, k = 60 (the default) and k = 5
    for ranker, k in [(RRFRanker(), 60), (RRFRanker(5), 5)]:
        res = client.hybrid_search(coll, reqs, ranker, limit=10)
        want = fused([a, b], lambda i, rank, s, m: 1 / (k + rank + 1))
        check(res[0], want[:10])
    # weighted: 2.5+ clients send norm_score (default True); 2.4 sends none, which the newest
    # Milvus reads as false: raw scores, L2 mapped only because it is mixed with IP
    w = [0.8, 0.2]
    if V25:
        for flag in (True, False):
            res = client.hybrid_search(coll, reqs, WeightedRanker(*w, norm_score=flag), limit=10)
            mapped = (lambda m, s: norm(m, s)) if flag else (lambda m, s: norm(m, s) if m == "L2" else s)
            check(res[0], fused([a, b], lambda i, rank, s, m: w[i] * mapped(m, s))[:10])
    else:
        res = client.hybrid_search(coll, reqs, WeightedRanker(*w), limit=10)
        want = fused([a, b], lambda i, rank, s, m: w[i] * (norm(m, s) if m == "L2" else s))
        check(res[0], want[:10])
    # two L2 searches with raw scores keep the distance order (smallest first)
    if V25:
        c = single(client, "dense", Q2, 10)
        l2 = [AnnSearchRequest([Q1], "dense", {"metric_type": "L2"}, 20),
              AnnSearchRequest([Q2], "dense", {"metric_type": "L2"}, 10)]
        res = client.hybrid_search(coll, l2, WeightedRanker(0.5, 0.5, norm_score=False), limit=5)
        check(res[0], fused([a, c], lambda i, rank, s, m: 0.5 * s, descending=False)[:5])


def test_hybrid_filters_outputs_offset_and_rounding(client, coll):
    a = single(client, "dense", Q1, 12, "cat == 'c1'")
    b = single(client, "dense2", Q2, 12, "price >= 100")
    reqs = [AnnSearchRequest([Q1], "dense", {"metric_type": "L2"}, 12, expr="cat == {c}", expr_params={"c": "c1"}),
            AnnSearchRequest([Q2], "dense2", {}, 12, expr="price >= 100")]
    want = fused([a, b], lambda i, rank, s, m: 1 / (60 + rank + 1))
    res = client.hybrid_search(coll, reqs, RRFRanker(), limit=6, offset=2, output_fields=["cat", "price"])
    check(res[0], want[2:8])
    for h in res[0]:
        assert h["entity"]["cat"] == f"c{h['id'] % 4}" and h["entity"]["price"] == float(h["id"])
        assert "dense" not in h["entity"]
    assert {h["id"] for h in res[0]} <= {pk for pk, _ in a[0]} | {pk for pk, _ in b[0]}
    res = client.hybrid_search(coll, reqs, RRFRanker(), limit=3, round_decimal=3)
    for h, (_, s) in zip(res[0], want):
        assert h["distance"] == pytest.approx(round(s, 3), abs=1e-6)
    # two query vectors in each request
    reqs = [AnnSearchRequest([Q1, Q2], "dense", {"metric_type": "L2"}, 10),
            AnnSearchRequest([Q2, Q1], "dense2", {"metric_type": "IP"}, 10)]
    res = client.hybrid_search(coll, reqs, RRFRanker(), limit=4)
    assert len(res) == 2
    second = fused([single(client, "dense", Q2, 10), single(client, "dense2", Q1, 10)],
                   lambda i, rank, s, m: 1 / (60 + rank + 1))
    check(res[1], second[:4])


def test_orm_hybrid_search(server, coll):
    from pymilvus import Collection, connections
    connections.connect("hy", uri=server.uri)
    try:
        col = Collection("h", using="hy")
        reqs = [AnnSearchRequest([Q1], "dense", {"metric_type": "L2"}, 10, expr="doc < 5"),
                AnnSearchRequest([Q2], "dense2", {"metric_type": "IP"}, 10)]
        res = col.hybrid_search(reqs, RRFRanker(), limit=5, output_fields=["doc"])
        assert len(res[0]) == 5
        assert all(h.entity.get("doc") == h.id % 9 for h in res[0])
    finally:
        connections.disconnect("hy")


def docs_of(hits):
    return [h["entity"]["doc"] for h in hits]


def test_grouping_search(client, coll):
    full = single(client, "dense", Q1, N)[0]
    res = client.search(coll, data=[Q1], anns_field="dense", limit=4, group_by_field="doc", output_fields=["doc"])
    # one hit per group, the best of each of the first four groups
    seen, want = set(), []
    for pk, s in full:
        if pk % 9 not in seen:
            seen.add(pk % 9)
            want.append((pk, s))
        if len(want) == 4:
            break
    check(res[0], want)
    assert docs_of(res[0]) == [pk % 9 for pk, _ in want]
    if not V25:
        return  # 2.4 clients do not send group_size
    res = client.search(coll, data=[Q1], anns_field="dense", limit=3, group_by_field="doc",
                        group_size=3, strict_group_size=True, output_fields=["doc"])
    groups = docs_of(res[0])
    assert len(groups) == 9
    for i in range(0, 9, 3):
        assert len(set(groups[i:i + 3])) == 1
    assert len(set(groups)) == 3
    # each group holds its three best hits, groups in order of their best hit
    order = []
    for pk, _ in full:
        if pk % 9 not in order:
            order.append(pk % 9)
    want = [(pk, s) for g in order[:3] for pk, s in [h for h in full if h[0] % 9 == g][:3]]
    check(res[0], want)
    # a VarChar group field, a filter
    res = client.search(coll, data=[Q2], anns_field="dense2", limit=2, group_by_field="cat", group_size=2,
                        filter="price < 200", output_fields=["cat", "price"])
    cats = [h["entity"]["cat"] for h in res[0]]
    assert len(res[0]) <= 4 and len(set(cats)) == 2
    assert all(h["entity"]["price"] < 200 for h in res[0])


def test_grouping_hybrid_search(client, coll):
    reqs = [AnnSearchRequest([Q1], "dense", {"metric_type": "L2"}, 30),
            AnnSearchRequest([Q2], "dense2", {"metric_type": "IP"}, 30)]
    kwargs = {"group_by_field": "doc"}
    if V25:
        kwargs.update(group_size=2)
    res = client.hybrid_search(coll, reqs, RRFRanker(), limit=3, output_fields=["doc"], **kwargs)
    groups = docs_of(res[0])
    size = 2 if V25 else 1
    assert len(set(groups)) == 3 and len(groups) <= 3 * size
    for g in set(groups):
        assert groups.count(g) <= size
        first = groups.index(g)
        assert groups[first:first + groups.count(g)] == [g] * groups.count(g), groups
    scores = [h["distance"] for h in res[0]]
    firsts = [scores[groups.index(g)] for g in dict.fromkeys(groups)]
    assert firsts == sorted(firsts, reverse=True)


def expect_error(fn, text):
    with pytest.raises(MilvusException) as e:
        fn()
    assert text in e.value.message, e.value.message
    assert e.value.code == 1100


def test_errors(client, coll):
    reqs = [AnnSearchRequest([Q1], "dense", {"metric_type": "L2"}, 10),
            AnnSearchRequest([Q2], "dense2", {"metric_type": "IP"}, 10)]
    expect_error(lambda: client.hybrid_search(coll, reqs, WeightedRanker(0.5), limit=5),
                 "the length of weights param mismatch with ann search requests")
    expect_error(lambda: client.hybrid_search(coll, reqs, WeightedRanker(0.5, 1.5), limit=5),
                 "rank param weight should be in range [0, 1]")
    expect_error(lambda: client.hybrid_search(coll, reqs, RRFRanker(20000), limit=5),
                 "The rank params k should be in range (0, 16384)")
    expect_error(lambda: client.hybrid_search(coll, reqs, RRFRanker(), limit=16384, offset=1),
                 "invalid max query result window")
    bad = [AnnSearchRequest([Q1], "nope", {}, 10)]
    expect_error(lambda: client.hybrid_search(coll, bad, RRFRanker(), limit=5), "nope")
    many = [AnnSearchRequest([Q1], "dense", {}, 1)] * 1025
    expect_error(lambda: client.hybrid_search(coll, many, RRFRanker(), limit=5),
                 "maximum of ann search requests is 1024")
    mixed = [AnnSearchRequest([Q1, Q2], "dense", {}, 10), AnnSearchRequest([Q2], "dense2", {}, 10)]
    expect_error(lambda: client.hybrid_search(coll, mixed, RRFRanker(), limit=5),
                 "sub search request nq should be the same")
    search = lambda **kw: client.search(coll, data=[Q1], anns_field="dense", limit=3, **kw)
    expect_error(lambda: search(group_by_field="price"), "unsupported data type Float for group by")
    expect_error(lambda: search(group_by_field="dense"), "unsupported data type FloatVector for group by")
    expect_error(lambda: search(group_by_field="nope"), "groupBy field not found in schema")
    expect_error(lambda: search(group_by_field="doc", search_params={"metric_type": "L2",
                                                                   "params": {"radius": 5.0}}),
                 "Not allowed to do range-search when doing search-group-by")
    if V25:
        expect_error(lambda: search(group_by_field="doc", group_size=11),
                     "input group size:11 exceeds configured max group size:10")
        expect_error(lambda: search(group_by_field="doc", group_size=-1),
                     "input group size:-1 is negative")
    # nothing above changed the data
    assert client.query(coll, filter="", output_fields=["count(*)"])[0]["count(*)"] == N
