"""Cluster mode end to end: coordinator, two proxies, three query nodes, a data node and an
index node as separate processes over a real Kafka broker and a real S3 server, driven with
pymilvus; then the failure cases. Runs when QUARRY_E2E_CLUSTER=1 (`make e2e-cluster`)."""
import os
import random
import shutil
import tempfile
import threading
import time

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from cluster import Cluster
from conftest import failed, print_log_tails

pytestmark = pytest.mark.skipif(os.environ.get("QUARRY_E2E_CLUSTER") != "1", reason="cluster e2e runs via `make e2e-cluster`")

DIM = 8


def vec(seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(DIM)]


@pytest.fixture
def cluster(request):
    with tempfile.TemporaryDirectory() as d:
        c = Cluster(d).start()
        try:
            yield c
        finally:
            c.stop()
            if failed(request):
                print_log_tails(d)


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
    what = what() if callable(what) else what
    raise AssertionError(f"{what} not reached in {timeout}s; last error: {last}")


def internal_call(port, method, body, token=None):
    """One raw gRPC call to an internal service (`quarry.internal.v1.<Service>/<Method>`) with a
    hand-encoded protobuf body; returns the status code."""
    import grpc
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.unary_unary(f"/quarry.internal.v1.{method}")
        metadata = [("x-quarry-token", token)] if token else []
        try:
            call(body, metadata=metadata, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def test_internal_ports_need_the_cluster_credential(cluster):
    import grpc
    coord = cluster.coord_port
    worker = cluster.ports["querynode-0"][0]
    # AllocIds{count: 1}, Mutate{} (no op), Heartbeat{node_id: "x"}, Read{collection: "d"}
    calls = [(coord, "Coord/AllocIds", b"\x08\x01"), (coord, "Coord/Mutate", b""),
             (coord, "Coord/Heartbeat", b"\x0a\x01x"), (worker, "Worker/Read", b"\x0a\x01d")]
    other = "another-clusters-token-0123456789"
    for port, method, body in calls:
        assert internal_call(port, method, body) == grpc.StatusCode.UNAUTHENTICATED, method
        assert internal_call(port, method, body, other) == grpc.StatusCode.UNAUTHENTICATED, method
    # with the credential the calls are served (AllocIds succeeds; the others get past the check)
    assert internal_call(coord, "Coord/AllocIds", b"\x08\x01", cluster.token) == grpc.StatusCode.OK
    assert internal_call(coord, "Coord/AllocIds", b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                         cluster.token) != grpc.StatusCode.OK, "u64::MAX ids are refused"
    for port, method, body in (calls[1], calls[3]):
        assert internal_call(port, method, body, cluster.token) != grpc.StatusCode.UNAUTHENTICATED, method
    # and the cluster itself keeps working
    c = MilvusClient(cluster.uri(0))
    create(c)
    c.load_collection("d")
    c.insert("d", [{"id": i, "v": vec(i)} for i in range(10)])
    eventually(lambda: count(c) == 10, what="rows visible")


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
    progress = []
    eventually(lambda: progress.append(b.describe_index("d", "v")) or progress[-1]["indexed_rows"] == 1000,
               what=lambda: f"index built (last answer {progress[-1:]})")
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


def test_compaction_keeps_results_exact(cluster):
    a = MilvusClient(cluster.uri(0))
    create(a)
    a.load_collection("d")
    for lo in (0, 100, 200):
        a.insert("d", [{"id": i, "v": vec(i)} for i in range(lo, lo + 100)])
        a.flush("d")
    a.delete("d", filter="id < 100")
    log = os.path.join(cluster.workdir, "datanode-0.log")
    deadline = time.time() + 40
    # while the data node merges the small segments and purges the deleted rows, and the
    # query nodes swap the result in, every read stays exact
    while "segments compacted" not in open(log, errors="replace").read():
        assert sorted(all_ids(a)) == list(range(100, 300))
        assert time.time() < deadline, "no compaction happened"
        time.sleep(0.2)
    for _ in range(15):
        assert sorted(all_ids(a)) == list(range(100, 300))
        assert a.search("d", [vec(150)], limit=1)[0][0]["id"] == 150
        time.sleep(0.2)


def test_query_node_loss_fails_over(cluster):
    a = MilvusClient(cluster.uri(0))
    create(a)
    a.load_collection("d")
    a.insert("d", [{"id": i, "v": vec(i)} for i in range(500)])
    a.flush("d")
    # two of the three query nodes die; the last one takes every shard
    cluster.kill9("querynode-0")
    cluster.kill9("querynode-1")
    started = time.time()
    eventually(lambda: count(a) == 500, timeout=30, what="searches served again")
    recovered = time.time() - started
    assert a.search("d", [vec(7)], limit=1)[0][0]["id"] == 7
    print(f"query node loss: served again after {recovered:.1f}s")
    # a node that comes back gets a share again, without a pause in search
    cluster.restart("querynode-0")
    for _ in range(20):
        assert count(a) == 500
        time.sleep(0.1)


def test_replicas_keep_search_available(cluster):
    a = MilvusClient(cluster.uri(0))
    create(a)
    a.insert("d", [{"id": i, "v": vec(i)} for i in range(300)])
    a.load_collection("d", replica_number=2)
    assert count(a) == 300
    errors, done = [], threading.Event()

    def searcher():
        c = MilvusClient(cluster.uri(1))
        while not done.is_set():
            try:
                assert c.search("d", [vec(3)], limit=1)[0][0]["id"] == 3
            except Exception as e:
                errors.append(e)
            time.sleep(0.02)

    t = threading.Thread(target=searcher)
    t.start()
    time.sleep(0.5)
    cluster.kill9("querynode-0")
    time.sleep(4)
    done.set()
    t.join()
    assert not errors, f"{len(errors)} searches failed during a node loss with 2 replicas: {errors[0]}"


def test_oversized_replica_number_is_refused(cluster):
    """replica_number beyond the bound, or beyond the query nodes that can serve it, is refused
    at once and stores nothing; the coordinator keeps planning (a stored 10^6 used to exhaust
    its memory)."""
    a = MilvusClient(cluster.uri(0))
    create(a)
    a.insert("d", [{"id": i, "v": vec(i)} for i in range(10)])
    start = time.time()
    with pytest.raises(MilvusException) as e:
        a.load_collection("d", replica_number=10**6)
    assert time.time() - start < 5
    assert "should be in range [1, 64]" in str(e.value), str(e.value)
    # more replicas than the three query nodes (once the coordinator knows every node)
    deadline = time.time() + 10
    while True:
        try:
            a.load_collection("d", replica_number=4, timeout=10)
        except MilvusException as err:
            assert "no enough nodes to create replicas" in str(err), str(err)
            break
        a.release_collection("d")
        assert time.time() < deadline, "a load of 4 replicas on 3 query nodes was accepted"
        time.sleep(0.5)
    a.load_collection("d", replica_number=3)
    assert count(a) == 10
    assert a.search("d", [vec(3)], limit=1)[0][0]["id"] == 3


def test_random_kill9_loses_no_acknowledged_row():
    """20 rounds: ingest through a proxy while a random process is killed with -9, restart it,
    then read every acknowledged id back, exactly once."""
    d = tempfile.mkdtemp(prefix="quarry-chaos-")
    cluster = Cluster(d, proxies=2, querynodes=2, segment_rows=400).start()
    try:
        run_kill_rounds(cluster, rounds=20)
    finally:
        cluster.stop()
    shutil.rmtree(d)  # kept when the test fails: the process logs are there


def run_kill_rounds(cluster, rounds):
    rnd = random.Random(7)
    c = MilvusClient(cluster.uri(1))
    create(c)
    c.load_collection("d")
    acked, next_id = [], [0]
    victims = ["querynode-0", "querynode-1", "datanode-0", "indexnode-0", "proxy-0", "coordinator"]
    for round_ in range(rounds):
        stop = threading.Event()

        def writer():
            w = MilvusClient(cluster.uri(0))
            while not stop.is_set():
                batch = list(range(next_id[0], next_id[0] + 40))
                next_id[0] += 40
                try:
                    w.insert("d", [{"id": k, "v": vec(k)} for k in batch], timeout=10)
                except Exception:
                    time.sleep(0.2)
                    continue
                acked.extend(batch)
            w.close()

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.3 + rnd.random())
        victim = victims[round_ % len(victims)] if round_ < len(victims) else rnd.choice(victims)
        cluster.kill9(victim)
        time.sleep(rnd.random() * 0.5)
        cluster.restart(victim)
        stop.set()
        t.join()
        want = set(acked)

        def complete():
            ids = all_ids(c)
            assert len(ids) == len(set(ids)), "a row was applied twice"
            return want <= set(ids)

        eventually(complete, timeout=60, what=f"round {round_} ({victim}): every acknowledged row readable")
        print(f"round {round_}: killed {victim}; {len(want)} acknowledged rows all readable once", flush=True)
    c.close()
    assert len(acked) > 1000
