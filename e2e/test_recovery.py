"""Durability: every acknowledged write survives restarts and kill -9, exactly once."""
import random
import threading
import time

from pymilvus import DataType, MilvusClient


def vec(dim, seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(dim)]


def schema():
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=8)
    return s


def setup(c):
    c.create_collection("d", schema=schema(), shards_num=2)
    ip = c.prepare_index_params()
    ip.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
    c.create_index("d", ip)
    c.load_collection("d")


def all_ids(c):
    """Every id, read back in pages (a query returns at most 16384 rows)."""
    total = c.query("d", filter="", output_fields=["count(*)"])[0]["count(*)"]
    out, lo = [], 0
    while len(out) < total:
        page = c.query("d", filter=f"id >= {lo}", output_fields=["id"], limit=10000)
        if not page:
            break
        out.extend(r["id"] for r in page)
        lo = page[-1]["id"] + 1
    assert len(out) == total
    return out


def test_restart_keeps_sealed_growing_and_deletes(server):
    c = MilvusClient(server.uri)
    setup(c)
    c.insert("d", [{"id": i, "v": vec(8, i), "tag": i} for i in range(200)])
    c.flush("d")
    c.insert("d", [{"id": i, "v": vec(8, i), "tag": i} for i in range(200, 300)])
    c.delete("d", filter="id < 10")
    c.delete("d", filter="id >= 290")
    c.close()
    server.stop()
    server.start()
    c = MilvusClient(server.uri)
    assert all_ids(c) == list(range(10, 290))
    assert c.describe_index("d", "v")["index_type"] == "HNSW"
    hits = c.search("d", [vec(8, 150)], limit=1, output_fields=["tag"])
    assert hits[0][0]["id"] == 150 and hits[0][0]["entity"]["tag"] == 150
    c.close()


def test_kill9_during_inserts_loses_no_acknowledged_row(server):
    c = MilvusClient(server.uri)
    setup(c)
    acked = []
    next_id = [0]
    stop = threading.Event()

    def writer():
        w = MilvusClient(server.uri)
        while not stop.is_set():
            batch = list(range(next_id[0], next_id[0] + 50))
            next_id[0] += 50
            try:
                w.insert("d", [{"id": k, "v": vec(8, k)} for k in batch], timeout=5)
            except Exception:
                return
            acked.extend(batch)

    for round_ in range(3):
        stop.clear()
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.5 + random.random())
        if round_ == 1:
            c.flush("d")
        server.kill9()
        stop.set()
        t.join()
        server.start()
        c = MilvusClient(server.uri)
        got = all_ids(c)
        assert set(acked) <= set(got), f"lost {len(set(acked) - set(got))} acknowledged rows"
        assert len(got) == len(set(got)), "a row was applied twice"
    assert len(acked) > 0
