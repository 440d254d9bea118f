"""Fixtures that start the real `quarry` binary and connect the real pymilvus client."""
import os
import random
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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so a fixture's teardown can tell whether the
    test failed (and then show the servers' logs)."""
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep


def failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


def print_log_tails(workdir, lines=60):
    """Prints the end of every `*.log` under workdir (shown by pytest beside a failed test)."""
    for root, _, files in os.walk(workdir):
        for name in sorted(files):
            if name.endswith(".log"):
                with open(os.path.join(root, name), "rb") as f:
                    tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
                print(f"----- {name} (last {len(tail)} lines) -----")
                print("\n".join(tail))


def log_tail(path, lines=20):
    with open(path, "rb") as f:
        return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])


_HANDED_OUT = set()


def free_port():
    """A loopback port for a server the test starts. Picked below the kernel's ephemeral range
    (32768+ here), so no outgoing connection made between this pick and the server's bind can
    take it, and never handed out twice by one test process (two picks asked for at once used to
    come back equal now and then: "exited early", address in use)."""
    lo, _ = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(15000, max(lo, 15001))
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free loopback port")


class Server:
    """One `quarry standalone` process on fresh ports over a data directory."""

    def __init__(self, data_dir, env=None):
        self.data_dir = data_dir
        self.proc = None
        self.port = None
        self.storage = storage_args()  # fixed for the server's life, so restarts see the same data
        self.env = env or {}  # extra environment (e.g. QUARRY_AUTH)

    def start(self):
        self.port, self.http_port = free_port(), free_port()
        log = open(os.path.join(self.data_dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [BINARY, "standalone", "--data-dir", os.path.join(self.data_dir, "data"), "--port", str(self.port),
             "--http-port", str(self.http_port), "--listen", "127.0.0.1", *self.storage],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", **self.env})
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("quarry exited early; its log ends:\n" + log_tail(self.data_dir + "/server.log"))
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
