"""HNSW_SQ through the real pymilvus client: the scalar types Quarry serves (SQ8 for COSINE,
FP16, BF16), `refine` re-scoring the candidates from the float32 vectors (exact scores),
`refine_k`, recall against exact search, and the refusals of what is not served."""
import math
import random
import time

import pytest
from pymilvus import DataType, MilvusException

N, DIM, K = 2000, 16, 10


def vectors(seed):
    r = random.Random(seed)
    return [[r.uniform(-1, 1) for _ in range(DIM)] for _ in range(N)]


def score(metric, a, b):
    dot = sum(x * y for x, y in zip(a, b))
    if metric == "IP":
        return dot
    if metric == "L2":
        return sum((x - y) ** 2 for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def exact(rows, q, metric):
    ranked = sorted(range(len(rows)), key=lambda i: score(metric, rows[i], q), reverse=metric != "L2")
    return ranked[:K]


def collection(client, name, metric, params):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection(name, schema=schema, consistency_level="Strong")
    rows = vectors(len(name))
    client.insert(name, [{"id": i, "v": v} for i, v in enumerate(rows)])
    client.flush(name)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="HNSW_SQ", metric_type=metric, params=params)
    client.create_index(name, ip)
    while int(client.describe_index(name, "v").get("indexed_rows", 0)) < N:
        time.sleep(0.1)
    client.load_collection(name)
    return rows


@pytest.mark.parametrize("metric,sq,refine", [
    ("COSINE", "SQ8", False), ("COSINE", "SQ8", True),
    ("L2", "FP16", True), ("IP", "BF16", False),
])
def test_hnsw_sq_searches_with_recall_and_refines_scores(client, metric, sq, refine):
    name = f"hsq_{metric}_{sq}_{refine}".lower()
    params = {"M": 16, "efConstruction": 100, "sq_type": sq, "refine": refine}
    rows = collection(client, name, metric, params)
    d = client.describe_index(name, "v")
    assert d["index_type"] == "HNSW_SQ" and str(d["sq_type"]) == sq
    found, approximate = 0, 0
    for qi in range(20):
        q = rows[qi * 37]
        hits = client.search(name, [q], limit=K, anns_field="v",
                             search_params={"metric_type": metric, "params": {"ef": 64}})[0]
        ids = [h["id"] for h in hits]
        found += len(set(ids) & set(exact(rows, q, metric)))
        for h in hits:
            want = score(metric, rows[h["id"]], q)
            # refined: exact float32 scores; else those of the quantised vectors
            gap = abs(h["distance"] - want)
            assert gap < (1e-4 if refine else 0.05) * max(1.0, abs(want))
            approximate += gap > 1e-5
    assert found / (20 * K) >= 0.9, found
    # the graph was searched, with its quantised scores unless refined
    assert (approximate == 0) if refine else (approximate > 0)


def test_refine_k_widens_the_candidates_and_needs_a_refining_index(client):
    rows = collection(client, "hsq_refine_k", "L2", {"sq_type": "BF16", "refine": True})
    q = rows[5]
    hits = client.search("hsq_refine_k", [q], limit=K, anns_field="v",
                         search_params={"metric_type": "L2", "params": {"ef": 32, "refine_k": 4}})[0]
    assert [h["id"] for h in hits][0] == 5
    assert [h["id"] for h in hits] == exact(rows, q, "L2")
    with pytest.raises(MilvusException, match=r"refine_k \[0.5\] is invalid"):
        client.search("hsq_refine_k", [q], limit=K, anns_field="v",
                      search_params={"metric_type": "L2", "params": {"refine_k": 0.5}})
    rows = collection(client, "hsq_plain", "L2", {"sq_type": "FP16"})
    with pytest.raises(MilvusException, match="refine_k applies to an index that refines"):
        client.search("hsq_plain", [q], limit=K, anns_field="v",
                      search_params={"metric_type": "L2", "params": {"refine_k": 2}})


def test_what_hnsw_sq_does_not_serve_is_refused(client):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection("hsq_refused", schema=schema)
    for params, text in (({}, "SQ8 serves COSINE only"),
                         ({"sq_type": "SQ6"}, "sq_type SQ6 is not served"),
                         ({"sq_type": "FP16", "refine": True, "refine_type": "SQ8"},
                          "refine_type SQ8 is not served")):
        ip = client.prepare_index_params()
        ip.add_index("v", index_type="HNSW_SQ", metric_type="L2", params=params)
        with pytest.raises(MilvusException, match=text):
            client.create_index("hsq_refused", ip)
    assert client.list_indexes("hsq_refused") == []
