"""quarry-operator end to end, without Kubernetes: the real operator process (leader election,
watches, controllers, the coordinator of the cluster) against the in-memory API server, Quarry
pods run as local processes from the Deployments it creates, over the real Kafka broker and S3
server, driven by resources and by the real pymilvus client. Runs when QUARRY_E2E_OPERATOR=1
(`make e2e-operator`)."""
import base64
import os
import random
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from pymilvus import MilvusClient

from opworld import FakeKube, Kubelet, Operator, condition, wait_for

pytestmark = pytest.mark.skipif(os.environ.get("QUARRY_E2E_OPERATOR") != "1", reason="operator e2e runs via `make e2e-operator`")

NS = "vectors"
Q = "quarry.dev/v1alpha1"


def resource(kind, name, spec):
    return {"apiVersion": Q, "kind": kind, "metadata": {"name": name, "namespace": NS}, "spec": spec}


@pytest.fixture
def world():
    workdir = tempfile.mkdtemp(prefix="quarry-operator-e2e-")
    kube = FakeKube(workdir)
    op = Operator(workdir, kube).start()
    kubelet = Kubelet(workdir, kube.api, NS)
    yield kube.api, op, kubelet, workdir
    kubelet.stop()
    op.stop()
    kube.stop()


def make_bucket(endpoint, bucket):
    req = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as e:
        if e.code != 409:
            raise


def ready(api, plural, name):
    obj = api.get(Q, plural, NS, name)
    return obj if condition(obj, "Ready")[0] == "True" and obj["status"].get("observedGeneration") == obj["metadata"]["generation"] else None


def test_a_cluster_run_by_the_operator(world):
    api, op, kubelet, workdir = world
    endpoint = os.environ["QUARRY_TEST_S3_ENDPOINT"]
    make_bucket(endpoint, "quarry-operator-e2e")
    cluster = f"c{uuid.uuid4().hex[:8]}"
    api.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3", "namespace": NS},
               "stringData": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}}, "secrets")
    api.apply(resource("QuarryCluster", cluster, {
        "image": "quarry:dev",
        "kafka": {"bootstrapServers": os.environ["QUARRY_TEST_KAFKA_BROKERS"], "replicationFactor": 1},
        "s3": {"bucket": "quarry-operator-e2e", "endpoint": endpoint, "pathStyle": True, "credentialsSecret": {"name": "s3"}},
    }), "quarryclusters")
    for role in ("proxy", "query", "data", "index"):
        api.apply(resource("NodePool", role, {"clusterRef": cluster, "role": role, "replicas": 1}), "nodepools")
    wait_for("the cluster to be Ready", lambda: ready(api, "quarryclusters", cluster))

    def pods_ready():
        kubelet.sync()
        return all(ready(api, "nodepools", p) for p in ("proxy", "query", "data", "index"))
    wait_for("every pool's pods", pods_ready, 120, 1)
    cm = api.get("v1", "configmaps", NS, f"{cluster}-config")
    assert cm["data"]["QUARRY_CLUSTER"] == f"{NS}/{cluster}"

    # a declared collection and index: created, loaded on the query node, index built
    api.apply(resource("Collection", "docs", {
        "clusterRef": cluster, "shards": 2, "deletionPolicy": "Delete", "load": {"replicas": 1},
        "schema": {"enableDynamicField": True, "fields": [
            {"name": "id", "dataType": "Int64", "primaryKey": True},
            {"name": "embedding", "dataType": "FloatVector", "dim": 8},
            {"name": "title", "dataType": "VarChar", "maxLength": 64}]}}), "collections")
    api.apply(resource("Index", "docs-embedding", {"collectionRef": "docs", "fieldName": "embedding",
                                                   "indexType": "HNSW", "metricType": "L2", "params": {"M": "16"}}), "indexes")
    wait_for("the collection to be loaded", lambda: ready(api, "collections", "docs"), 120)
    wait_for("the index", lambda: ready(api, "indexes", "docs-embedding"))

    # proxies authenticate: root's password is in the Secret the operator generated
    secret = api.get("v1", "secrets", NS, f"{cluster}-root-password")
    password = base64.b64decode(secret["data"]["password"]).decode()
    assert len(password) == 32
    with pytest.raises(Exception):
        MilvusClient(f"http://127.0.0.1:{kubelet.port(f'{cluster}-proxy-0')}", timeout=10).list_collections()
    client = MilvusClient(f"http://127.0.0.1:{kubelet.port(f'{cluster}-proxy-0')}", user="root", password=password)
    assert "docs" in client.list_collections()

    # the internal ports: the operator's coordinator serves only calls with the cluster's token
    # (which names the cluster), the query node's Worker service too
    token = base64.b64decode(api.get("v1", "secrets", NS, f"{cluster}-internal-token")["data"]["token"]).decode()
    assert len(token) == 32
    coord, worker = op.grpc, kubelet.port(f"{cluster}-query-0")
    for port, method, body in [(coord, "Coord/AllocIds", b"\x08\x01"), (coord, "Coord/Mutate", b""),
                               (coord, "Coord/Heartbeat", b""), (worker, "Worker/Read", b"")]:
        for presented in (None, "another-clusters-token-0123456789"):
            assert internal_call(port, method, body, presented) == grpc.StatusCode.UNAUTHENTICATED, (method, presented)
    assert internal_call(coord, "Coord/AllocIds", b"\x08\x01", token) == grpc.StatusCode.OK
    random.seed(7)
    rows = [{"id": i, "embedding": [random.random() for _ in range(8)], "title": f"t{i}"} for i in range(2000)]
    assert client.insert("docs", rows)["insert_count"] == 2000
    client.flush("docs")
    hits = client.search("docs", [rows[42]["embedding"]], limit=3, output_fields=["title"], consistency_level="Strong")[0]
    assert hits[0]["id"] == 42 and hits[0]["entity"]["title"] == "t42"

    # the status follows the data: rows in sealed segments, then the index built over them
    def indexed():
        col, idx = api.get(Q, "collections", NS, "docs"), api.get(Q, "indexes", NS, "docs-embedding")
        s, i = col.get("status") or {}, idx.get("status") or {}
        return s.get("rows") == 2000 and i.get("totalRows") == 2000 and i.get("indexedRows") == 2000 and ready(api, "indexes", "docs-embedding")
    wait_for("rows and index progress in the status", indexed, 120, 1)
    metrics = op.metrics()
    assert f'quarry_collection{{cluster="{NS}/{cluster}",collection="docs",figure="rows"}} 2000' in metrics
    assert 'quarry_operator_reconciles_total{kind="Collection",result="ok"}' in metrics

    # a collection made through pymilvus appears as a resource
    client.create_collection("from_pymilvus", dimension=8)
    mirror = wait_for("the mirror resource", lambda: ready(api, "collections", "from-pymilvus"))
    assert mirror["metadata"]["annotations"]["quarry.dev/mirror"] == "true"
    assert mirror["spec"]["name"] == "from_pymilvus"

    # the operator (and with it the coordinator) dies: the data plane keeps serving, and a new
    # operator takes over from the catalog in S3
    op.kill9()
    hits = client.search("docs", [rows[7]["embedding"]], limit=1)[0]
    assert hits[0]["id"] == 7
    op.start()
    more = [{"id": 10_000 + i, "embedding": [random.random() for _ in range(8)], "title": "late"} for i in range(100)]
    wait_for("writes after the takeover", lambda: _try_insert(client, more), 60, 1)
    got = client.query("docs", filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]
    assert got == 2100
    wait_for("the collection Ready under the new operator", lambda: ready(api, "collections", "docs"), 60)

    # deletionPolicy: Delete drops the collection with the resource
    api.delete(Q, "collections", NS, "docs")
    wait_for("the drop", lambda: "docs" not in client.list_collections(), 60)
    wait_for("the resource to go", lambda: api.get(Q, "collections", NS, "docs") is None, 30)
    assert "from_pymilvus" in client.list_collections()


def internal_call(port, method, body, token=None):
    """One raw gRPC call to an internal service with a hand-encoded protobuf body."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        metadata = [("x-quarry-token", token)] if token else []
        try:
            ch.unary_unary(f"/quarry.internal.v1.{method}")(body, metadata=metadata, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def _try_insert(client, rows):
    try:
        return client.insert("docs", rows)["insert_count"] == len(rows)
    except Exception:
        time.sleep(0.5)
        return False
