"""Fixtures that start the real `quarry` binary and connect the real pymilvus client."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

BINARY = os.environ.get("QUARRY_BIN", os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "quarry"))

# QUARRY_E2E_STORAGE=remote runs every test over a real Kafka-protocol broker and a real S3
# server (addresses from scripts/with-services.sh) instead of the embedded log and local files;
# QUARRY_E2E_STORAGE=cluster runs them against a whole cluster (coordinator, proxy, two query
# nodes, data and index node as processes) over those servers.
STORAGE = os.environ.get("QUARRY_E2E_STORAGE", "embedded")


def storage_args():
    """Command-line flags selecting the storage of one test's server (fresh topics and keys)."""
    if STORAGE == "embedded":
        return []
    if STORAGE not in ("remote", "cluster"):
        raise RuntimeError(f"unknown QUARRY_E2E_STORAGE={STORAGE}")
    brokers, endpoint = os.environ["QUARRY_TEST_KAFKA_BROKERS"], os.environ["QUARRY_TEST_S3_ENDPOINT"]
    tag = uuid.uuid4().hex[:12]
    return ["--kafka-brokers", brokers, "--kafka-topic-prefix", f"e2e-{tag}-",
            "--s3-bucket", "quarry-e2e", "--s3-endpoint", endpoint, "--s3-prefix", f"e2e-{tag}",
            "--s3-path-style", "true", "--s3-create-bucket", "true"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `quarry standalone` process on fresh ports over a data directory."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.proc = None
        self.port = None
        self.storage = storage_args()  # fixed for the server's life, so restarts see the same data

    def start(self):
        self.port, self.http_port = free_port(), free_port()
        log = open(os.path.join(self.data_dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [BINARY, "standalone", "--data-dir", os.path.join(self.data_dir, "data"), "--port", str(self.port),
             "--http-port", str(self.http_port), "--listen", "127.0.0.1", *self.storage],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("quarry exited early; see " + self.data_dir + "/server.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("quarry did not start listening")

    @property
    def uri(self):
        return f"http://127.0.0.1:{self.port}"

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ClusterServer:
    """The `Server` interface over a whole cluster: restarts and kills hit every process."""

    def __init__(self, data_dir):
        from cluster import Cluster
        self.cluster = Cluster(data_dir, proxies=1, querynodes=2)

    def start(self):
        # a restarted proxy gets a new port, as a restarted standalone server does: a client
        # made after the restart then has a fresh channel instead of one stuck in reconnect
        # backoff from the killed process
        for name in [n for n in self.cluster.ports if n.startswith("proxy-")]:
            del self.cluster.ports[name]
        self.cluster.start()
        return self

    @property
    def uri(self):
        return self.cluster.uri(0)

    def kill9(self):
        for name in list(self.cluster.procs):
            if self.cluster.procs[name].poll() is None:
                self.cluster.kill9(name)

    def stop(self):
        self.cluster.stop()


@pytest.fixture
def server():
    with tempfile.TemporaryDirectory() as d:
        s = (ClusterServer(d) if STORAGE == "cluster" else Server(d)).start()
        yield s
        s.stop()


@pytest.fixture
def client(server):
    from pymilvus import MilvusClient
    c = MilvusClient(server.uri)
    yield c
    c.close()
