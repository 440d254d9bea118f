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
