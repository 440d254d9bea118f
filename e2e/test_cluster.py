"""Cluster mode end to end: coordinator, two proxies, three query nodes, a data node and an
index node as separate processes over a real Kafka broker and a real S3 server, driven with
pymilvus; then the failure cases. Runs when QUARRY_E2E_CLUSTER=1 (`make e2e-cluster`)."""
import os
import random
import tempfile
import threading
import time

import pytest
from pymilvus import DataType, MilvusClient

from cluster import Cluster

pytestmark = pytest.mark.skipif(os.environ.get("QUARRY_E2E_CLUSTER") != "1", reason="cluster e2e runs via `make e2e-cluster`")

DIM = 8


def vec(seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(DIM)]


@pytest.fixture
def cluster():
    with tempfile.TemporaryDirectory() as d:
        c = Cluster(d).start()
        try:
            yield c
        finally:
            c.stop()


def create(c, name="d", consistency="Strong"):
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    c.create_collection(name, schema=s, shards_num=2, consistency_level=consistency)
    ip = c.prepare_index_params()
    ip.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 64})
    c.create_index(name, ip)


def count(c, name="d"):
    return c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]


def all_ids(c, name="d"):
    out, lo = [], 0
    while True:
        page = c.query(name, filter=f"id >= {lo}", output_fields=["id"], limit=10000)
        if not page:
            return out
        out.extend(r["id"] for r in page)
        lo = page[-1]["id"] + 1


def eventually(check, timeout=30, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if check():
                return
        except Exception as e:  # a node may be failing over
            last = e
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached in {timeout}s; last error: {last}")


def test_flow_through_two_proxies(cluster):
    a, b = MilvusClient(cluster.uri(0)), MilvusClient(cluster.uri(1))
    create(a)
    a.load_collection("d")
    a.insert("d", [{"id": i, "v": vec(i), "tag": i % 7} for i in range(1000)])
    # Strong: proxy b sees what proxy a acknowledged
    assert count(b) == 1000
    hits = b.search("d", [vec(5)], limit=3, output_fields=["tag"])
    assert hits[0][0]["id"] == 5 and hits[0][0]["entity"]["tag"] == 5
    # sealing moves rows into a segment on S3; the index node indexes it
    a.flush("d")
    eventually(lambda: b.describe_index("d", "v")["indexed_rows"] == 1000, what="index built")
    a.insert("d", [{"id": i, "v": vec(i), "tag": i % 7} for i in range(1000, 1200)])
    a.delete("d", filter="id < 100")
    b.upsert("d", [{"id": 150, "v": vec(150), "tag": 99}])
    assert count(a) == 1100
    assert sorted(all_ids(b)) == list(range(100, 1200))
    assert b.query("d", filter="id == 150", output_fields=["tag"])[0]["tag"] == 99
    hits = a.search("d", [vec(1100)], limit=5, filter="tag != 3")
    assert hits[0][0]["id"] == 1100 and len(hits[0]) == 5
    assert b.describe_collection("d")["num_shards"] == 2
    a.release_collection("d")
    a.drop_collection("d")
    assert not b.has_collection("d")
