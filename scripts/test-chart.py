#!/usr/bin/env python3
"""Tests of the Helm chart: `helm lint`, renders with the values a platform team changes, checks
of what each value promises, and validation of every rendered manifest against the Kubernetes
schemas (kubernetes-validate). Usage: test-chart.py <helm> <kubernetes-validate>"""

import json
import os
import subprocess
import sys
import tempfile

import yaml

HELM, VALIDATE = sys.argv[1], sys.argv[2]
CHART = os.path.join(os.path.dirname(__file__), "..", "charts", "quarry")


def helm(*args):
    return subprocess.run([HELM, *args], check=True, capture_output=True, text=True).stdout


def render(*sets):
    args = ["template", "quarry", CHART, "-n", "quarry-system"]
    for s in sets:
        args += ["--set", s]
    return [d for d in yaml.safe_load_all(helm(*args)) if d]


def kinds(docs):
    return sorted(d["kind"] for d in docs)


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def env_of(deployment):
    return {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def restricted_violations(pod):
    """The ways a pod spec breaks the Kubernetes "restricted" Pod Security Standard."""
    out = []
    psc = pod.get("securityContext") or {}
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        out.append("host namespaces")
    allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
    for v in pod.get("volumes") or []:
        if not allowed & set(v):
            out.append(f"volume {v['name']}")
    for c in pod["containers"] + (pod.get("initContainers") or []):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{c['name']}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{c['name']}: allowPrivilegeEscalation")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []) or set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append(f"{c['name']}: capabilities")
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            out.append(f"{c['name']}: runAsNonRoot")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            out.append(f"{c['name']}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{c['name']}: seccompProfile")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            out.append(f"{c['name']}: hostPort")
    return out


def main():
    print(helm("lint", "--strict", CHART).strip().splitlines()[-1])
    helm("lint", "--strict", CHART, "--set", "watch.mode=namespace", "--set", "metrics.serviceMonitor.enabled=true")

    # defaults: cluster mode, CRDs kept on uninstall, dashboard shipped
    docs = render()
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert sorted(c["metadata"]["name"] for c in crds) == [
        "collections.quarry.dev", "indexes.quarry.dev", "nodepools.quarry.dev", "quarryclusters.quarry.dev"]
    assert all(c["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for c in crds)
    rules = one(docs, "ClusterRole")["rules"]
    assert any("collections/status" in r["resources"] for r in rules)
    # secrets: read, and create a cluster's root-password Secret; never change or delete one
    assert {"get", "create"} == set(next(r for r in rules if r["resources"] == ["secrets"])["verbs"]), \
        "secrets: get and create only"
    # the rendered objects are applied (patch) and removed by owner references: no create,
    # update or delete on them (autoscalers excepted), none on anything else
    for r in rules:
        if r["apiGroups"] in (["apps"], ["policy"], ["networking.k8s.io"]) or r["resources"] == ["services", "configmaps"]:
            assert set(r["verbs"]) == {"get", "list", "watch", "patch"}, r
    assert any(r["resources"] == ["networkpolicies"] for r in rules)
    assert "ServiceMonitor" not in kinds(docs)
    dep = one(docs, "Deployment")
    assert restricted_violations(dep["spec"]["template"]["spec"]) == [], "the operator's pod is restricted"
    policy = one(docs, "NetworkPolicy")
    grpc_rule = next(r for r in policy["spec"]["ingress"] if r.get("from"))
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert grpc_rule["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "quarry"}
    env = env_of(dep)
    assert env["QUARRY_COORDINATOR_ADDRESS"] == "quarry.quarry-system.svc:19531", env
    assert "QUARRY_WATCH_NAMESPACE" not in env
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.1.0")
    dash = json.loads(one(docs, "ConfigMap")["data"]["quarry.json"])
    assert dash["uid"] == "quarry-overview" and len(dash["panels"]) >= 10

    # namespace mode: no cluster-wide permission at all
    ns = render("watch.mode=namespace", "watch.namespace=vectors", "crds.install=false", "crds.keep=false")
    assert not [d for d in ns if d["kind"].startswith("Cluster")], kinds(ns)
    assert "CustomResourceDefinition" not in kinds(ns)
    role = [d for d in ns if d["kind"] == "Role" and d["metadata"]["namespace"] == "vectors"]
    assert len(role) == 1, "the managed objects' Role lives in the watched namespace"
    assert env_of(one(ns, "Deployment"))["QUARRY_WATCH_NAMESPACE"] == "vectors"

    # CRDs not kept when asked; ServiceMonitor and settings passed through
    other = render("crds.keep=false", "metrics.serviceMonitor.enabled=true", "metrics.podMonitor.enabled=true", "operator.resyncSeconds=60",
                   "image.tag=0.2.0", "operator.replicas=2", "grafana.dashboards.enabled=false")
    assert all("helm.sh/resource-policy" not in (d["metadata"].get("annotations") or {})
               for d in other if d["kind"] == "CustomResourceDefinition")
    assert one(other, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "http"
    assert one(other, "PodMonitor")["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "quarry"}
    dep = one(other, "Deployment")
    assert env_of(dep)["QUARRY_RESYNC_SECONDS"] == "60"
    assert dep["spec"]["replicas"] == 2 and dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.2.0")
    assert "ConfigMap" not in kinds(other)
    assert "NetworkPolicy" not in kinds(render("networkPolicy.enabled=false"))

    # values the schema refuses
    bad = subprocess.run([HELM, "template", "q", CHART, "--set", "watch.mode=everywhere"], capture_output=True, text=True)
    assert bad.returncode != 0 and "watch" in bad.stderr, bad.stderr

    # every rendered manifest validates against the Kubernetes 1.33 schemas (ServiceMonitor and
    # PodMonitor are Prometheus Operator types: not in them)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, docs in {"cluster": docs, "namespace": ns, "other": other}.items():
            path = os.path.join(tmp, f"{name}.yaml")
            with open(path, "w") as f:
                yaml.safe_dump_all([d for d in docs if d["kind"] not in ("ServiceMonitor", "PodMonitor")], f)
            files.append(path)
        subprocess.run([VALIDATE, "--strict", "--quiet", "-k", "1.33.0", *files], check=True)
    print("chart: lint, renders and schema validation passed")


if __name__ == "__main__":
    main()
