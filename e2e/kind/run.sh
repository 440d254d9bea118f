#!/usr/bin/env bash
# Quarry on kind, end to end (see README.md here). Needs docker, kind, kubectl, helm, python3 +
# pymilvus. KEEP=0 deletes the kind cluster at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${KIND_CLUSTER:-quarry}
for tool in docker kind kubectl helm python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done

docker build --target quarry -t quarry:dev .
docker build --target operator -t quarry-operator:dev .
kind get clusters | grep -qx "$name" || kind create cluster --name "$name"
kind load docker-image --name "$name" quarry:dev quarry-operator:dev
if [ "${KEEP:-1}" = 0 ]; then trap 'kind delete cluster --name "$name"' EXIT; fi

kubectl apply -f e2e/kind/storage.yaml
kubectl -n storage rollout status deploy/kafka deploy/minio --timeout=300s
kubectl -n storage wait --for=condition=complete job/make-bucket --timeout=300s

helm upgrade --install quarry charts/quarry -n quarry-system --create-namespace \
  --set image.repository=quarry-operator --set image.tag=dev --set image.pullPolicy=Never --wait
kubectl create namespace vectors --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -k e2e/kind/
for kind in quarryclusters nodepools collections indexes; do
  kubectl -n vectors wait "$kind" --all --for=condition=Ready --timeout=600s
done
kubectl -n vectors get quarryclusters,nodepools,collections,indexes

kubectl -n vectors port-forward svc/prod 19530:19530 >/dev/null &
forward=$!
trap 'kill $forward 2>/dev/null || true' EXIT
sleep 3
python3 e2e/kind/smoke.py http://localhost:19530
echo "kind e2e passed"
