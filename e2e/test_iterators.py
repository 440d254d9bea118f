"""pymilvus iterators (`query_iterator`, `search_iterator`) over data larger than one batch,
sealed and growing, with every pymilvus line of the matrix: each row comes once, in the order
Milvus gives (primary key for queries, score for searches), also while rows are deleted
between pages. pymilvus 2.4 pages searches by range searches (iterator v1); 2.5+ asks for
search iterator v2 (token and last bound), which Quarry serves for one dense query vector."""
import random
import time

import pymilvus
import pytest
from pymilvus import DataType

PYMILVUS = tuple(int(x) for x in pymilvus.__version__.split(".")[:2])
ROWS = 1000
DIM = 4


def vec(rnd):
    return [rnd.random() for _ in range(DIM)]


def create(client, name, index="FLAT"):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.INT64)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type=index, metric_type="L2",
                 params={"nlist": 16} if index.startswith("IVF") else {})
    client.create_collection(name, schema=schema, index_params=ip, consistency_level="Strong")
    rnd = random.Random(7)
    rows = [{"id": i, "v": vec(rnd), "tag": i % 10} for i in range(ROWS)]
    client.insert(name, rows[:600])
    client.flush(name)  # sealed segments and growing rows both
    client.insert(name, rows[600:])
    return rows


def drain(it, on_page=None):
    out = []
    while True:
        page = it.next()
        if not page:
            it.close()
            return out
        out.extend(page)
        if on_page:
            on_page(len(out))


def hit_id(h):
    return h.id if hasattr(h, "id") else h["id"]


def hit_distance(h):
    return h.distance if hasattr(h, "distance") else h["distance"]


def test_query_iterator_pages_in_key_order(client):
    create(client, "qi")
    it = client.query_iterator("qi", batch_size=128, filter="tag >= 3", output_fields=["tag"])
    got = drain(it)
    ids = [r["id"] for r in got]
    assert ids == [i for i in range(ROWS) if i % 10 >= 3]
    assert all(r["tag"] == r["id"] % 10 for r in got)
    # a limit ends the iteration early
    it = client.query_iterator("qi", batch_size=64, limit=150, filter="", output_fields=["id"])
    assert [r["id"] for r in drain(it)] == list(range(150))


def test_query_iterator_through_deletes(client):
    create(client, "qd")
    deleted = set()

    def delete_ahead(seen):
        # after each page, delete some rows not reached yet
        doomed = [i for i in range(seen + 50, min(seen + 60, ROWS))]
        if doomed:
            client.delete("qd", ids=doomed)
            deleted.update(doomed)

    it = client.query_iterator("qd", batch_size=100, filter="", output_fields=["id"])
    ids = [r["id"] for r in drain(it, delete_ahead)]
    assert deleted
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    # every row never deleted comes; deleted ones come at most once (pymilvus 2.5+ reads the
    # snapshot of the iterator's start, older lines see the deletes)
    assert set(range(ROWS)) - deleted <= set(ids) <= set(range(ROWS))
    assert sorted(r["id"] for r in client.query("qd", filter="id >= 0", output_fields=["id"],
                                                limit=ROWS)) == sorted(set(range(ROWS)) - deleted)


def test_search_iterator_pages_by_distance(client):
    rows = create(client, "si")
    q = [0.5] * DIM
    it = client.search_iterator("si", data=[q], batch_size=100, limit=700, anns_field="v",
                                search_params={"metric_type": "L2", "params": {}}, output_fields=["tag"])
    hits = drain(it)
    ids = [hit_id(h) for h in hits]
    assert len(ids) == 700 and len(set(ids)) == 700
    dists = [hit_distance(h) for h in hits]
    assert all(a <= b + 1e-5 for a, b in zip(dists, dists[1:]))
    # FLAT: the 700 nearest rows exactly
    exact = sorted(rows, key=lambda r: sum((a - b) ** 2 for a, b in zip(r["v"], q)))
    assert set(ids) == {r["id"] for r in exact[:700]}


@pytest.mark.parametrize("index", ["HNSW", "IVF_FLAT"])
def test_search_iterator_walks_a_whole_indexed_collection(client, index):
    """Deep pages of an indexed segment: a range search walks the graph (or IVF's cells) past
    the rows of the pages before (better than `range_filter`) instead of counting them, so
    every row comes once however deep the page. (IVF probes all 16 cells here: a row of a cell
    an earlier page left unprobed is passed over once the pages have moved past its score.)"""
    create(client, "sih", index=index)
    while int(client.describe_index("sih", "v").get("indexed_rows", 0)) < 600:
        time.sleep(0.1)
    # v2 pages may be larger than ef, as Milvus's iterators take them (v1's first page is a
    # plain search, where ef must reach the limit)
    batch = 80 if PYMILVUS >= (2, 5) else 50
    it = client.search_iterator("sih", data=[[0.5] * DIM], batch_size=batch, anns_field="v",
                                search_params={"metric_type": "L2", "params": {"ef": 64, "nprobe": 16}})
    hits = drain(it)
    ids = [hit_id(h) for h in hits]
    assert sorted(ids) == list(range(ROWS))
    dists = [hit_distance(h) for h in hits]
    assert all(a <= b + 1e-5 for a, b in zip(dists, dists[1:]))


def test_search_iterator_v2_gives_rows_tied_at_a_page_boundary_once(client):
    """Rows of one score across a page boundary (duplicate vectors): the iterator's cursor
    remembers the keys given at the bound, so each comes once (pymilvus 2.5+ pages with v2)."""
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="COSINE")
    client.create_collection("sit", schema=schema, index_params=ip, consistency_level="Strong")
    # 5 directions, 40 rows each: every page boundary falls inside a run of equal scores
    dirs = [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    client.insert("sit", [{"id": i, "v": dirs[i % 5]} for i in range(200)])
    it = client.search_iterator("sit", data=[[1, 0.2, 0, 0]], batch_size=7, anns_field="v",
                                search_params={"metric_type": "COSINE", "params": {}})
    if PYMILVUS >= (2, 5):
        assert type(it).__name__ == "SearchIteratorV2"  # served, not fallen back to v1
    hits = drain(it)
    ids = [hit_id(h) for h in hits]
    assert sorted(ids) == list(range(200))
    scores = [hit_distance(h) for h in hits]
    assert all(a >= b - 1e-6 for a, b in zip(scores, scores[1:]))
