"""quarry-operator as a process, against the in-memory API server (`quarry-fake-kube`), with a
small "kubelet" that runs the Deployments the operator creates as local `quarry` processes (env
from the pod template, the cluster's ConfigMap and Secrets, as Kubernetes would set it)."""
import base64
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

from conftest import BINARY, free_port

TARGET = os.path.dirname(BINARY)
OPERATOR = os.path.join(TARGET, "quarry-operator")
FAKE_KUBE = os.path.join(TARGET, "quarry-fake-kube")


class Api:
    """Just enough of a Kubernetes client: apply, get, list, delete, status patches."""

    def __init__(self, url):
        self.url = url

    def _call(self, method, path, body=None, content_type="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]}") from e

    @staticmethod
    def path(api_version, plural, ns, name=None):
        prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        return f"{prefix}/namespaces/{ns}/{plural}" + (f"/{name}" if name else "")

    def apply(self, obj, plural):
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        return self._call("PATCH", self.path(obj["apiVersion"], plural, ns, name) + "?fieldManager=e2e&force=true",
                          obj, "application/apply-patch+yaml")

    def get(self, api_version, plural, ns, name):
        return self._call("GET", self.path(api_version, plural, ns, name))

    def list(self, api_version, plural, ns, selector=""):
        q = f"?labelSelector={urllib.request.quote(selector)}" if selector else ""
        return self._call("GET", self.path(api_version, plural, ns) + q)["items"]

    def delete(self, api_version, plural, ns, name):
        return self._call("DELETE", self.path(api_version, plural, ns, name))

    def merge(self, api_version, plural, ns, name, patch, sub=""):
        return self._call("PATCH", self.path(api_version, plural, ns, name) + sub, patch, "application/merge-patch+json")


def condition(obj, type_):
    for c in ((obj or {}).get("status") or {}).get("conditions", []):
        if c["type"] == type_:
            return c["status"], c["reason"]
    return None, None


def wait_for(what, check, timeout=90, every=0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


class FakeKube:
    def __init__(self, workdir):
        self.port = free_port()
        self.kubeconfig = os.path.join(workdir, "kubeconfig")
        log = open(os.path.join(workdir, "fake-kube.log"), "ab")
        self.proc = subprocess.Popen([FAKE_KUBE, "--port", str(self.port), "--kubeconfig", self.kubeconfig],
                                     stdout=log, stderr=subprocess.STDOUT)
        self.api = Api(f"http://127.0.0.1:{self.port}")
        wait_for("the fake API server", lambda: os.path.exists(self.kubeconfig) and self._up(), 30)

    def _up(self):
        try:
            self.api._call("GET", "/api/v1/namespaces/x/secrets")
            return True
        except Exception:
            return False

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Operator:
    def __init__(self, workdir, kube):
        self.workdir, self.kube = workdir, kube
        self.grpc, self.http = free_port(), free_port()
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.workdir, "operator.log"), "ab")
        env = {**os.environ, "KUBECONFIG": self.kube.kubeconfig, "POD_NAMESPACE": "quarry-system",
               "POD_NAME": f"quarry-operator-{self.starts}", "QUARRY_OPERATOR_GRPC_PORT": str(self.grpc),
               "QUARRY_OPERATOR_HTTP_PORT": str(self.http), "QUARRY_COORDINATOR_ADDRESS": f"127.0.0.1:{self.grpc}",
               "QUARRY_RESYNC_SECONDS": "3", "QUARRY_MIRROR_SECONDS": "1", "QUARRY_NODE_LEASE_MS": "2000",
               "QUARRY_LEASE_SECONDS": "3", "RUST_LOG": "info"}
        self.proc = subprocess.Popen([OPERATOR], stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for("the operator to lead", self.ready, 60)
        return self

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/readyz", timeout=2) as r:
                return r.status == 200
        except Exception:
            return False

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/metrics", timeout=5) as r:
            return r.read().decode()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _decode(data):
    return {k: base64.b64decode(v).decode() for k, v in (data or {}).items()}


class Kubelet:
    """Runs each Deployment of a namespace as local processes (one per replica) and reports
    them ready in the Deployment's status, as the deployment controller and kubelet would."""

    def __init__(self, workdir, api, ns):
        self.workdir, self.api, self.ns = workdir, api, ns
        self.pods = {}  # pod name -> (process, grpc port, http port)

    def _env(self, container, pod):
        env = {}
        for src in container.get("envFrom", []):
            if "configMapRef" in src:
                env.update(self.api.get("v1", "configmaps", self.ns, src["configMapRef"]["name"])["data"])
            if "secretRef" in src:
                env.update(_decode(self.api.get("v1", "secrets", self.ns, src["secretRef"]["name"])["data"]))
        for e in container.get("env", []):
            if "value" in e:
                env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), ""), e["value"])
            else:
                ref = e["valueFrom"]
                if "fieldRef" in ref:
                    env[e["name"]] = {"metadata.name": pod, "status.podIP": "127.0.0.1"}[ref["fieldRef"]["fieldPath"]]
                else:
                    s = ref["secretKeyRef"]
                    env[e["name"]] = _decode(self.api.get("v1", "secrets", self.ns, s["name"])["data"])[s["key"]]
        return env

    def sync(self):
        """Starts missing pods, then marks every Deployment whose pods are ready."""
        for d in self.api.list("apps/v1", "deployments", self.ns):
            name, replicas = d["metadata"]["name"], d["spec"].get("replicas", 1)
            container = d["spec"]["template"]["spec"]["containers"][0]
            for i in range(replicas):
                pod = f"{name}-{i}"
                if pod not in self.pods or self.pods[pod][0].poll() is not None:
                    self._start(pod, container)
            ready = sum(1 for i in range(replicas) if self._ready(f"{name}-{i}"))
            status = {"observedGeneration": d["metadata"]["generation"], "replicas": replicas,
                      "readyReplicas": ready, "updatedReplicas": replicas, "availableReplicas": ready}
            if (d.get("status") or {}) != status:
                self.api.merge("apps/v1", "deployments", self.ns, name, {"status": status}, "/status")

    def _start(self, pod, container):
        grpc, http = free_port(), free_port()
        env = {**os.environ, **self._env(container, pod)}
        env.update({"QUARRY_PORT": str(grpc), "QUARRY_HTTP_PORT": str(http), "QUARRY_LISTEN": "127.0.0.1"})
        if "QUARRY_ADVERTISE" in env:
            env["QUARRY_ADVERTISE"] = f"127.0.0.1:{grpc}"
        log = open(os.path.join(self.workdir, f"{pod}.log"), "ab")
        proc = subprocess.Popen([BINARY, *container["args"]], stdout=log, stderr=subprocess.STDOUT, env=env)
        self.pods[pod] = (proc, grpc, http)

    def _ready(self, pod):
        proc, _, http = self.pods[pod]
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=2) as r:
                return r.status == 200
        except Exception:
            return False

    def port(self, pod):
        return self.pods[pod][1]

    def stop(self):
        for proc, _, _ in self.pods.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
