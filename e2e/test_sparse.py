"""SparseFloatVector through the real pymilvus client: dict rows and lists of (index, value)
pairs, query outputs in the form pymilvus decodes, exact IP search on growing data checked
against a computation here, SPARSE_INVERTED_INDEX and SPARSE_WAND built on sealed segments
(with drop_ratio_build / drop_ratio_search), filters, deletes, range and grouping search, a
hybrid search with a dense field, and Milvus's refusals of bad rows, metrics and indexes."""
import random
import time

import pytest
from pymilvus import AnnSearchRequest, DataType, MilvusException, RRFRanker
from pymilvus.exceptions import ParamError

N = 400


def sparse_row(i):
    r = random.Random(i)
    dims = sorted(r.sample(range(1000), r.randint(1, 10)))
    return {d: round(r.uniform(0.05, 2.0), 3) for d in dims}


def row(i):
    s = sparse_row(i)
    r = random.Random(10_000 + i)
    # the second sparse field gets the same vector as a list of (index, value) pairs
    return {"id": i, "tag": f"t{i % 3}", "sp1": s, "sp2": list(s.items()),
            "dense": [r.uniform(-1, 1) for _ in range(4)]}


def ip(q, s):
    return sum(v * s.get(k, 0.0) for k, v in q.items())


def as_dict(v):
    """A sparse vector as pymilvus returns it (a dict, or a one-row scipy matrix) as a dict."""
    if isinstance(v, dict):
        return {int(k): float(x) for k, x in v.items()}
    return {int(k): float(x) for k, x in zip(v.indices, v.data)}


def check_ip_topk(hits, q, rows, ids=None):
    """The hits are the top-k by inner product among `ids` (rows with a common dimension)."""
    ids = set(rows) if ids is None else ids
    want = sorted(((ip(q, rows[i]), i) for i in ids if ip(q, rows[i]) != 0),
                  key=lambda t: (-t[0], t[1]))
    assert len(hits) == min(len(want), len(hits)) and hits
    for h, (score, _) in zip(hits, want):
        assert h["distance"] == pytest.approx(score, rel=1e-4, abs=1e-5)
        assert h["distance"] == pytest.approx(ip(q, rows[h["id"]]), rel=1e-4, abs=1e-5)


def wait_indexed(client, name, rows):
    deadline = time.time() + 60
    for index in client.list_indexes(name):
        while client.describe_index(name, index).get("indexed_rows") != rows:
            assert time.time() < deadline, client.describe_index(name, index)
            time.sleep(0.2)


def create(client, name, sp1=None, sp2=None):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tag", DataType.VARCHAR, max_length=8)
    schema.add_field("sp1", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("sp2", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=4)
    ip_ = client.prepare_index_params()
    ip_.add_index("sp1", metric_type="IP", **(sp1 or {"index_type": "SPARSE_INVERTED_INDEX"}))
    ip_.add_index("sp2", metric_type="IP", **(sp2 or {"index_type": "SPARSE_WAND"}))
    ip_.add_index("dense", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=ip_, consistency_level="Strong")


def test_sparse_insert_query_search_index(client):
    create(client, "sp")
    data = [row(i) for i in range(N)]
    rows = {i: sparse_row(i) for i in range(N)}
    client.insert("sp", data[: N // 2])
    # growing data: exact search
    q = sparse_row(5)
    for field in ["sp1", "sp2"]:
        res = client.search("sp", data=[q], anns_field=field, limit=10,
                            search_params={"metric_type": "IP"}, output_fields=[field, "tag"])
        check_ip_topk(res[0], q, {i: rows[i] for i in range(N // 2)})
        for h in res[0]:
            assert as_dict(h["entity"][field]) == pytest.approx(rows[h["id"]])
    # query outputs both forms as pymilvus decodes them
    got = client.query("sp", filter="id in [3, 7]", output_fields=["sp1", "sp2"])
    assert sorted(g["id"] for g in got) == [3, 7]
    for g in got:
        assert as_dict(g["sp1"]) == pytest.approx(rows[g["id"]])
        assert as_dict(g["sp2"]) == pytest.approx(rows[g["id"]])
    # a sealed, indexed segment beside growing rows
    client.flush("sp")
    wait_indexed(client, "sp", N // 2)
    client.insert("sp", data[N // 2:])
    broad = {d: 0.5 + (d % 7) / 10 for d in range(0, 1000, 20)}
    queries = [sparse_row(5), sparse_row(300), broad]
    for field in ["sp1", "sp2"]:
        res = client.search("sp", data=queries, anns_field=field, limit=10,
                            search_params={"metric_type": "IP", "params": {"drop_ratio_search": 0.0}})
        assert len(res) == 3
        for qq, hits in zip(queries, res):
            check_ip_topk(hits, qq, rows)
        # with a filter
        res = client.search("sp", data=queries[:1], anns_field=field, limit=5, filter='tag == "t1"')
        check_ip_topk(res[0], queries[0], rows, {i for i in rows if i % 3 == 1})
        # offset
        full = client.search("sp", data=queries[2:], anns_field=field, limit=8)[0]
        page = client.search("sp", data=queries[2:], anns_field=field, limit=4, offset=4)[0]
        assert [h["id"] for h in page] == [h["id"] for h in full[4:8]]
    # range search (IP: radius < score <= range_filter)
    res = client.search("sp", data=queries[2:], anns_field="sp1", limit=100,
                        search_params={"params": {"radius": 0.5, "range_filter": 2.0}})
    want = sorted(i for i in rows if 0.5 < ip(queries[2], rows[i]) <= 2.0)
    assert want and sorted(h["id"] for h in res[0]) == want
    # grouping search: one hit per tag
    res = client.search("sp", data=queries[2:], anns_field="sp2", limit=3, group_by_field="tag",
                        output_fields=["tag"])
    assert len({h["entity"]["tag"] for h in res[0]}) == len(res[0]) == 3
    # delete: the best hit goes away
    best = client.search("sp", data=[queries[0]], anns_field="sp1", limit=1)[0][0]["id"]
    client.delete("sp", ids=[best])
    for field in ["sp1", "sp2"]:
        hits = client.search("sp", data=[queries[0]], anns_field=field, limit=10)[0]
        assert best not in [h["id"] for h in hits]
        check_ip_topk(hits, queries[0], {i: r for i, r in rows.items() if i != best})
    # hybrid search: a sparse request beside a dense one, fused by RRF
    reqs = [AnnSearchRequest([queries[1]], "sp1", {"metric_type": "IP"}, 10),
            AnnSearchRequest([data[300]["dense"]], "dense", {"metric_type": "L2"}, 10)]
    fused = {}
    for r in reqs:
        single = client.search("sp", data=r.data, anns_field=r.anns_field, limit=10,
                               search_params=r.param)[0]
        for rank, h in enumerate(single):
            fused[h["id"]] = fused.get(h["id"], 0.0) + 1 / (60 + rank + 1)
    top = client.hybrid_search("sp", reqs, RRFRanker(), limit=3, output_fields=["sp1"])[0][0]
    assert top["distance"] == pytest.approx(max(fused.values()))
    assert fused[top["id"]] == pytest.approx(top["distance"])
    assert as_dict(top["entity"]["sp1"]) == pytest.approx(rows[top["id"]])
    desc = {i["field_name"]: i for i in
            (client.describe_index("sp", n) for n in client.list_indexes("sp"))}
    assert desc["sp1"]["index_type"] == "SPARSE_INVERTED_INDEX" and desc["sp1"]["metric_type"] == "IP"
    assert desc["sp2"]["index_type"] == "SPARSE_WAND"
    # released and loaded again: the index files are read back
    client.release_collection("sp")
    client.load_collection("sp")
    res = client.search("sp", data=queries[1:2], anns_field="sp2", limit=10)
    check_ip_topk(res[0], queries[1], {i: r for i, r in rows.items() if i != best})


def test_drop_ratios_take_effect(client):
    create(client, "dr", sp1={"index_type": "SPARSE_INVERTED_INDEX", "params": {"drop_ratio_build": 0.5}},
           sp2={"index_type": "AUTOINDEX"})
    # ten rows: a large value in dimension 0 and a small one in dimension 1
    data = [{"id": i, "tag": "t", "sp1": {0: float(i + 1), 1: 0.01}, "sp2": {0: float(i + 1), 1: 0.01},
             "dense": [0.0, 0.0, 0.0, float(i)]} for i in range(10)]
    client.insert("dr", data)
    client.flush("dr")
    wait_indexed(client, "dr", 10)
    # the built index left the small values out: dimension 1 alone finds nothing
    assert client.search("dr", data=[{1: 1.0}], anns_field="sp1", limit=5)[0] == []
    assert len(client.search("dr", data=[{1: 1.0}], anns_field="sp2", limit=5)[0]) == 5
    # drop_ratio_search leaves the query's small values out (here dimension 0's)
    q = {0: 0.001, 1: 1.0}
    hits = client.search("dr", data=[q], anns_field="sp2", limit=3)[0]
    assert [h["id"] for h in hits] == [9, 8, 7]
    hits = client.search("dr", data=[q], anns_field="sp2", limit=3,
                         search_params={"params": {"drop_ratio_search": 0.5}})[0]
    assert [h["distance"] for h in hits] == pytest.approx([0.01] * 3)
    desc = client.describe_index("dr", "sp2")
    assert desc["metric_type"] == "IP"


def _raises(call, *texts):
    with pytest.raises(Exception) as e:
        call()
    if isinstance(e.value, MilvusException):
        assert any(t in str(e.value) for t in texts), str(e.value)
    return e.value


def test_sparse_errors(client):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("sp", DataType.SPARSE_FLOAT_VECTOR, dim=8)
    _raises(lambda: client.create_collection("bad", schema=schema), "dim should not be specified")
    assert not client.has_collection("bad")

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("sp", DataType.SPARSE_FLOAT_VECTOR)
    client.create_collection("e", schema=schema, consistency_level="Strong")

    def index(**kw):
        ip_ = client.prepare_index_params()
        ip_.add_index("sp", **kw)
        client.create_index("e", ip_)

    _raises(lambda: index(index_type="SPARSE_INVERTED_INDEX", metric_type="L2"),
            "metric type L2 not found or not supported")
    _raises(lambda: index(index_type="SPARSE_WAND", metric_type="BM25"), "BM25")
    _raises(lambda: index(index_type="HNSW", metric_type="IP"), "can't build with this index HNSW")
    _raises(lambda: index(index_type="SPARSE_INVERTED_INDEX", metric_type="IP",
                          params={"drop_ratio_build": 1.5}),
            "should be in range [0.000000, 1.000000)")
    assert client.list_indexes("e") == []
    index(index_type="AUTOINDEX", metric_type="IP")
    assert client.describe_index("e", "sp")["metric_type"] == "IP"
    client.load_collection("e")
    # bad rows change nothing
    _raises(lambda: client.insert("e", [{"id": 1, "sp": {1: -0.5}}]), "negative value")
    _raises(lambda: client.insert("e", [{"id": 1, "sp": {1: float("inf")}}]), "NaN or infinite")
    _raises(lambda: client.insert("e", [{"id": 1, "sp": {1: float("nan")}}]), "NaN")
    _raises(lambda: client.insert("e", [{"id": 1, "sp": [(2, 0.4), (2, 0.5)]}]),
            "unsorted or same indices")
    _raises(lambda: client.insert("e", [{"id": 1, "sp": {2**32 - 1: 1.0}}]), "2^32-1")
    assert client.query("e", filter="id >= 0", output_fields=["count(*)"])[0]["count(*)"] == 0
    client.insert("e", [{"id": 1, "sp": {3: 1.0}}])
    _raises(lambda: client.search("e", data=[{3: 1.0}], anns_field="sp", limit=1,
                                  search_params={"metric_type": "L2"}), "metric type not match")
    _raises(lambda: client.search("e", data=[[0.5, 0.5]], anns_field="sp", limit=1),
            "vector type must be the same", "sparse")
    _raises(lambda: client.search("e", data=[{3: -1.0}], anns_field="sp", limit=1), "negative value")
    _raises(lambda: client.search("e", data=[{3: 1.0}], anns_field="sp", limit=1,
                                  search_params={"params": {"drop_ratio_search": 1.0}}),
            "should be in range [0.000000, 1.000000)")
    hit = client.search("e", data=[{3: 2.0}], anns_field="sp", limit=1)[0][0]
    assert hit["id"] == 1 and hit["distance"] == pytest.approx(2.0)
    # an empty row is stored (as in Milvus) and queried back, but no search finds it
    # (pymilvus 2.4 refuses to send one)
    try:
        client.insert("e", [{"id": 2, "sp": {}}])
    except ParamError:
        return
    got = client.query("e", filter="id == 2", output_fields=["sp"])
    assert len(got) == 1 and as_dict(got[0]["sp"]) == {}
    hits = client.search("e", data=[{3: 2.0, 4: 1.0}], anns_field="sp", limit=10)[0]
    assert [h["id"] for h in hits] == [1]


def wait_all_indexed(client, name, seconds=60):
    """Until every index of `name` counts all live sealed rows as indexed and none pending."""
    deadline = time.time() + seconds
    for index in client.list_indexes(name):
        while True:
            d = client.describe_index(name, index)
            if d.get("pending_index_rows") == 0 and d.get("indexed_rows") == d.get("total_rows"):
                break
            assert time.time() < deadline, repr(d)
            time.sleep(0.2)


def test_compaction_rebuilds_sparse_indexes(client):
    create(client, "cp", sp1={"index_type": "SPARSE_INVERTED_INDEX", "params": {"drop_ratio_build": 0.0}},
           sp2={"index_type": "SPARSE_WAND", "params": {"inverted_index_algo": "TAAT_NAIVE"}})
    rows = {}
    for batch in range(3):  # one small sealed segment per flush
        part = [row(i) for i in range(batch * 50, batch * 50 + 50)]
        client.insert("cp", part)
        rows.update({r["id"]: sparse_row(r["id"]) for r in part})
        client.flush("cp")
    client.delete("cp", filter="id < 20")
    client.flush("cp")
    # the deletes persisted in the catalog before compacting (a cluster's data nodes persist
    # them after the flush returns), so that the catalog's row counts include them
    wait_all_indexed(client, "cp")
    live = {i: r for i, r in rows.items() if i >= 20}
    job = client.compact("cp")
    deadline = time.time() + 60
    while client.get_compaction_state(job) != "Completed":
        assert time.time() < deadline
        time.sleep(0.2)
    # every sealed row indexed (deleted rows may stay in segments until purged)
    wait_all_indexed(client, "cp")
    broad = {d: 1.0 for d in range(0, 1000, 10)}
    for field in ["sp1", "sp2"]:
        hits = client.search("cp", data=[broad], anns_field=field, limit=20, output_fields=[field])[0]
        check_ip_topk(hits, broad, live)
        for h in hits:
            assert as_dict(h["entity"][field]) == pytest.approx(live[h["id"]])
