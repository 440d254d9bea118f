"""Ranker functions of pymilvus 2.6 (`ranker=Function(function_type=RERANK, ...)`) on search and
hybrid search: decay (gauss, exp, linear) rescoring by a numeric field, checked against the
formula computed here from the plain search's distances; rrf and weighted as functions; and
Milvus's refusals."""
import math
import random

import pytest
import pymilvus
from pymilvus import AnnSearchRequest, DataType, MilvusException

pytestmark = pytest.mark.skipif(not hasattr(getattr(pymilvus, "FunctionType", None), "RERANK"),
                                reason="ranker functions are a pymilvus 2.6 feature")

N = 60


def vec(i):
    r = random.Random(i)
    return [r.uniform(0, 1) for _ in range(4)]


def ranker(**params):
    from pymilvus import Function, FunctionType
    inputs = params.pop("inputs", ["ts"])
    return Function(name="rerank_fn", input_field_names=inputs,
                    function_type=FunctionType.RERANK, params=params)


def factor(shape, x, origin, scale, offset, decay):
    adj = max(0.0, abs(x - origin) - offset)
    if shape == "gauss":
        return math.exp(math.log(decay) * adj * adj / (scale * scale))
    if shape == "exp":
        return math.exp(math.log(decay) * adj / scale)
    return max(decay, 1 - (1 - decay) * adj / scale)


def relevance_l2(d):
    return 1 - 2 * math.atan(d) / math.pi


@pytest.fixture
def col(client):
    s = client.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("ts", DataType.INT64)
    s.add_field("title", DataType.VARCHAR, max_length=16)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("rk", schema=s, index_params=ip, consistency_level="Strong")
    client.insert("rk", [{"id": i, "ts": 10 * i, "title": f"t{i}", "v": vec(i)} for i in range(N)])
    return "rk"


@pytest.mark.parametrize("shape", ["gauss", "exp", "linear"])
def test_decay_rescores_the_page(client, col, shape):
    q = vec(1000)
    params = dict(reranker="decay", function=shape, origin=100, offset=50, decay=0.5, scale=80)
    for offset in [0, 3]:
        plain = client.search(col, [q], limit=8, offset=offset, output_fields=["ts"])[0]
        got = client.search(col, [q], limit=8, offset=offset, output_fields=["title"],
                            ranker=ranker(**params))[0]
        want = sorted(((relevance_l2(h["distance"]) * factor(shape, h["entity"]["ts"], 100, 80, 50, 0.5),
                        h["id"]) for h in plain), key=lambda t: (-t[0], t[1]))
        # the same page, reordered by the decayed score (the field read for it is not output)
        assert [h["id"] for h in got] == [i for _, i in want]
        for h, (score, _) in zip(got, want):
            assert h["distance"] == pytest.approx(score, rel=1e-4, abs=1e-6)
            assert set(h["entity"]) == {"title"}


def test_decay_and_rankers_on_hybrid_search(client, col):
    q1, q2 = vec(2000), vec(2001)
    reqs = [AnnSearchRequest([q1], "v", {"metric_type": "L2"}, limit=10),
            AnnSearchRequest([q2], "v", {"metric_type": "L2"}, limit=10)]
    subs = [client.search(col, [q], limit=10, output_fields=["ts"])[0] for q in (q1, q2)]
    best = {}
    ts = {}
    for hits in subs:
        for h in hits:
            best[h["id"]] = max(best.get(h["id"], -1.0), relevance_l2(h["distance"]))
            ts[h["id"]] = h["entity"]["ts"]
    want = sorted(((s * factor("exp", ts[i], 0, 100, 0, 0.9), i) for i, s in best.items()),
                  key=lambda t: (-t[0], t[1]))[:5]
    got = client.hybrid_search(col, reqs, ranker=ranker(reranker="decay", function="exp", origin=0,
                                                        scale=100, decay=0.9),
                               limit=5, output_fields=["ts"])[0]
    assert [h["id"] for h in got] == [i for _, i in want]
    for h, (score, i) in zip(got, want):
        assert h["distance"] == pytest.approx(score, rel=1e-4, abs=1e-6)
        assert h["entity"]["ts"] == ts[i]
    # rrf as a function: the same as RRFRanker
    from pymilvus import RRFRanker
    as_fn = client.hybrid_search(col, reqs, ranker=ranker(reranker="rrf", k=10, inputs=[]), limit=5)[0]
    legacy = client.hybrid_search(col, reqs, ranker=RRFRanker(10), limit=5)[0]
    assert [(h["id"], round(h["distance"], 6)) for h in as_fn] == \
        [(h["id"], round(h["distance"], 6)) for h in legacy]
    # weighted as a function, normalised
    w = client.hybrid_search(col, reqs, ranker=ranker(reranker="weighted", weights=[0.3, 0.7],
                                                     norm_score=True, inputs=[]), limit=3)[0]
    assert len(w) == 3 and all(0 <= h["distance"] <= 1 for h in w)


def test_ranker_function_refusals(client, col):
    q = [vec(1)]
    for params, words in [
        (dict(reranker="decay", function="exp", scale=1), "decay function lost param: origin"),
        (dict(reranker="decay", function="exp", origin=0, scale=0), "scale must > 0"),
        (dict(reranker="decay", function="exp", origin=0, scale=1, decay=1.5), "0 < decay < 1"),
        (dict(reranker="decay", function="cubic", origin=0, scale=1), "only support [gauss,linear,exp]"),
        (dict(reranker="decay", function="exp", origin=0, scale=1, inputs=["title"]),
         "unsupported input field type"),
        (dict(reranker="decay", function="exp", origin=0, scale=1, inputs=["nope"]),
         "function input field not found"),
        (dict(reranker="model", provider="tei", queries=["x"], inputs=["title"]), "external inference"),
        (dict(reranker="magic"), "unsupported rerank function"),
        (dict(reranker="weighted", weights=[0.5, 0.5], inputs=[]), "mismatch"),
    ]:
        with pytest.raises(MilvusException) as e:
            client.search(col, q, limit=3, ranker=ranker(**params))
        assert words in str(e.value), (params, str(e.value))


def test_order_by_fields_sorts_the_similarity_top(client):
    s = client.create_schema(auto_id=False, enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("price", DataType.DOUBLE)
    s.add_field("meta", DataType.JSON)
    s.add_field("cat", DataType.VARCHAR, max_length=8)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("ob", schema=s, index_params=ip, consistency_level="Strong")
    rows = []
    for i in range(N):
        meta = {"age": i % 7} if i % 5 else {}
        rows.append({"id": i, "price": float(i % 9), "meta": meta, "cat": f"k{i % 5}", "v": vec(i),
                     "color": f"c{i % 4}"})
    client.insert("ob", rows)
    by_id = {r["id"]: r for r in rows}
    q = [vec(3000)]
    top = [h["id"] for h in client.search("ob", q, limit=14)[0]]  # similarity order

    def expect(key, desc, offset, limit, nulls_first=None):
        present = [i for i in top if key(by_id[i]) is not None]
        missing = [i for i in top if key(by_id[i]) is None]
        # stable: equal values keep their similarity order (also descending)
        present = sorted(present, key=lambda i: key(by_id[i]), reverse=desc)
        first = desc if nulls_first is None else nulls_first
        ordered = missing + present if first else present + missing
        return ordered[offset:offset + limit]

    def ids(**kw):
        return [h["id"] for h in client.search("ob", q, limit=10, offset=4, **kw)[0]]

    price = lambda r: r["price"]
    age = lambda r: r["meta"].get("age")
    assert ids(order_by_fields=[{"field": "price", "order": "asc"}]) == expect(price, False, 4, 10)
    assert ids(order_by_fields=[{"field": "price", "order": "desc"}]) == expect(price, True, 4, 10)
    assert ids(order_by_fields=[{"field": 'meta["age"]', "order": "asc"}]) == expect(age, False, 4, 10)
    assert ids(order_by_fields=[{"field": 'meta["age"]', "order": "desc:nulls_last"}]) == \
        expect(age, True, 4, 10, nulls_first=False)
    # a dynamic key; the order fields are not output unless asked for
    got = client.search("ob", q, limit=10, offset=4, output_fields=["price"],
                        order_by_fields=[{"field": "color", "order": "asc"}])[0]
    assert [h["id"] for h in got] == expect(lambda r: r["color"], False, 4, 10)
    assert all(set(h["entity"]) == {"price"} for h in got)
    # a grouping search: the similarity top (offset + limit groups) ordered by each group's first
    # hit, then offset and limit in groups
    grouped = client.search("ob", q, limit=4, group_by_field="cat", group_size=2,
                            output_fields=["price", "cat"])[0]
    groups = []
    for h in grouped:
        if groups and groups[-1][0]["entity"]["cat"] == h["entity"]["cat"]:
            groups[-1].append(h)
        else:
            groups.append([h])
    want = sorted(groups, key=lambda g: g[0]["entity"]["price"])[1:4]
    got = client.search("ob", q, limit=3, offset=1, group_by_field="cat", group_size=2,
                        output_fields=["cat"], order_by_fields=[{"field": "price"}])[0]
    assert [h["id"] for h in got] == [h["id"] for g in want for h in g]
    for fields, words in [
        ([{"field": "v"}], "unsortable type"),
        ([{"field": "meta"}], "unsortable type"),
        ([{"field": "price", "order": "up"}], "invalid order direction"),
        ([{"field": 'price["x"]'}], "not a JSON type"),
    ]:
        with pytest.raises(MilvusException) as e:
            client.search("ob", q, limit=3, order_by_fields=fields)
        assert words in str(e.value), (fields, str(e.value))
    # without a dynamic field an unknown name is no dynamic key
    client.create_collection("ob_plain", dimension=4, enable_dynamic_field=False)
    with pytest.raises(MilvusException, match="does not exist in collection schema"):
        client.search("ob_plain", q, limit=3, order_by_fields=[{"field": "nope"}])
    with pytest.raises(MilvusException, match="cannot be used together"):
        client.search("ob", q, limit=3, order_by_fields=[{"field": "price"}],
                      ranker=ranker(reranker="rrf", inputs=[]))
