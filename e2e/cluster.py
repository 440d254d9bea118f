"""A Quarry cluster of real processes: coordinator, proxies, query, data and index nodes over
the Kafka broker and S3 server of scripts/with-services.sh."""
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

from conftest import BINARY, free_port, log_tail


class Cluster:
    def __init__(self, workdir, proxies=2, querynodes=3, lease_ms=2000, segment_rows=500_000,
                 root_password=None, proxy_env=None):
        self.workdir = workdir
        self.proxy_env = proxy_env or {}  # extra environment of the proxies only (e.g. TLS)
        # proxies authenticate by default; the harness turns it off unless a test asks for it
        self.auth_env = ({"QUARRY_AUTH": "true", "QUARRY_ROOT_PASSWORD": root_password}
                         if root_password else {"QUARRY_AUTH": "false"})
        # every process of the cluster shares the internal credential
        self.token = uuid.uuid4().hex + uuid.uuid4().hex
        tag = uuid.uuid4().hex[:12]
        brokers, endpoint = os.environ["QUARRY_TEST_KAFKA_BROKERS"], os.environ["QUARRY_TEST_S3_ENDPOINT"]
        self.storage = ["--kafka-brokers", brokers, "--kafka-topic-prefix", f"cl-{tag}-",
                        "--s3-bucket", "quarry-e2e", "--s3-endpoint", endpoint, "--s3-prefix", f"cl-{tag}",
                        "--s3-path-style", "true", "--s3-create-bucket", "true"]
        self.lease_ms = lease_ms
        self.segment_rows = segment_rows
        self.coord_port = free_port()
        self.procs = {}
        self.ports = {}
        self.counts = {"proxy": proxies, "querynode": querynodes, "datanode": 1, "indexnode": 1}

    def _spawn(self, name, args, port=None):
        http = free_port()
        log = open(os.path.join(self.workdir, f"{name}.log"), "ab")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "QUARRY_INTERNAL_TOKEN": self.token, **self.auth_env,
               **(self.proxy_env if name.startswith("proxy-") else {})}
        argv = [BINARY, *args, "--listen", "127.0.0.1", "--http-port", str(http), *self.storage]
        if port is not None:
            argv += ["--port", str(port)]
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.ports[name] = (port, http)

    def start_coordinator(self):
        self._spawn("coordinator", ["coordinator", "--lease-ms", str(self.lease_ms)], port=self.coord_port)
        self._wait_tcp("coordinator", self.coord_port)

    def start_node(self, role, i):
        name = f"{role}-{i}"
        port = self.ports.get(name, (None,))[0] or free_port()
        args = [role, "--coordinator", f"127.0.0.1:{self.coord_port}", "--node-id", name,
                "--segment-rows", str(self.segment_rows)]
        self._spawn(name, args, port=port)
        self._wait_ready(name)

    def start(self):
        self.start_coordinator()
        for role in ("datanode", "indexnode", "querynode", "proxy"):
            for i in range(self.counts[role]):
                self.start_node(role, i)
        return self

    def _wait_tcp(self, name, port, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited early; its log ends:\n"
                                   + log_tail(os.path.join(self.workdir, f"{name}.log")))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not listen")

    def _wait_ready(self, name, timeout=60):
        http = self.ports[name][1]
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited early; its log ends:\n"
                                   + log_tail(os.path.join(self.workdir, f"{name}.log")))
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready")

    def uri(self, proxy=0):
        return f"http://127.0.0.1:{self.ports[f'proxy-{proxy}'][0]}"

    def kill9(self, name):
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def term(self, name):
        self.procs[name].send_signal(signal.SIGTERM)
        self.procs[name].wait(timeout=30)

    def restart(self, name):
        if name == "coordinator":
            self.start_coordinator()
        else:
            role, i = name.rsplit("-", 1)
            self.start_node(role, int(i))

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
