#!/usr/bin/env bash
# The course's multi-tier app on minikube-lite, step by step (see README.md beside this file).
# Needs a running cluster (minikube-lite start) and kubectl. Run from anywhere:
#   examples/multi-tier/walkthrough.sh          # deploy, use the app, show self-healing
#   examples/multi-tier/walkthrough.sh delete   # remove it all again
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
step() { printf '\n\033[1m▶ %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [[ "${1:-}" == "delete" ]]; then
  run kubectl delete -f examples/multi-tier/ --ignore-not-found
  run kubectl delete secret pgpassword --ignore-not-found
  exit 0
fi

step "1. Build the images locally (no registry needed; already done by scripts/setup.sh)"
run python3 -m minikube_lite.images

step "2. The seed's client-pod has the label component=web too: remove it so only the web Deployment answers"
run kubectl delete -f examples/seed/ --ignore-not-found

step "3. The Secret, created imperatively as in the course (its value never lands in a file)"
kubectl get secret pgpassword >/dev/null 2>&1 ||
  run kubectl create secret generic pgpassword --from-literal PGPASSWORD=12345asdf

step "4. Every object of the app, declaratively: one folder, one command"
run kubectl apply -f examples/multi-tier/

step "5. Wait until each Deployment has its desired pods ready"
for d in client server worker redis postgres; do
  run kubectl rollout status "deployment/$d-deployment" --timeout=120s
done
run kubectl get pods,services,ingress,pvc

step "6. Use the app through the Ingress (ingress-nginx's rules: / -> web, /api/ -> API)"
port="$(kubectl get ingress ingress-service -o jsonpath='{.status.loadBalancer.ingress[0].ports[0].port}')"
url="http://localhost:${port:-80}"
echo "The page: $url/"
for _ in $(seq 1 50); do curl -sf -o /dev/null "$url/api/values/all" && break; sleep 0.2; done
run curl -s -X POST -H 'Content-Type: application/json' -d '{"index":"10"}' "$url/api/values"; echo
sleep 2
run curl -s "$url/api/values/current"; echo   # the worker computed fib(10) into the Redis-like store
run curl -s "$url/api/values/all"; echo       # the index, kept by the Postgres-like store

step "7. The worker's log: it found the index through redis-cluster-ip-service (cluster DNS)"
run kubectl logs deployment/worker-deployment --tail=3

step "8. Delete the database pod: the Deployment replaces it, the PVC keeps the data"
run kubectl delete pod -l component=postgres
run kubectl rollout status deployment/postgres-deployment --timeout=120s
for _ in $(seq 1 50); do curl -sf "$url/api/values/all" | grep -q number && break; sleep 0.2; done
run curl -s "$url/api/values/all"; echo

step "9. Scale the API: 3 -> 5 pods, the Service spreads requests over all of them"
run kubectl scale deployment server-deployment --replicas=5
run kubectl rollout status deployment/server-deployment --timeout=120s
run kubectl get pods -l component=server

echo
echo "Open $url/ in a browser, and the dashboard (minikube-lite dashboard --url) beside it."
echo "Remove everything with: examples/multi-tier/walkthrough.sh delete"
