#!/usr/bin/env bash
# minikube-lite's set-up: the README's first command. From a fresh Debian machine (as root) to a
# running cluster with the learner's demo applied:
#
#   1. system packages when missing: python3 + pip, busybox-static (the base of the local images)
#   2. pip install -e .  (the minikube-lite command), and the bytecode of it and its dependencies
#   3. a Docker engine that answers (scripts/ensure-docker.sh: installs docker.io / starts dockerd)
#   4. the demo images, built locally: no registry is needed (python -m minikube_lite.images)
#   5. minikube-lite start  (extra arguments go to it, e.g. --port 8081; --ha first installs etcd-server)
#   6. kubectl apply -f examples/seed/
#
# Safe to run again: every step skips what is already done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore

is_root() { [[ "$(id -u)" -eq 0 ]]; }
apt_updated=0
apt_install() {
  if ! is_root; then
    echo "❌  Missing: $*. Install it as root: sudo apt-get install -y $*" >&2
    exit 1
  fi
  if ((apt_updated == 0)); then apt-get update -q; apt_updated=1; fi
  apt-get install -y -q "$@"
}

PY="${PYTHON:-$(command -v python3 || command -v python || true)}"
if [[ -z "$PY" ]] || ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "📦  Installing Python and pip ..."
  apt_install python3 python3-pip python3-venv
  PY="$(command -v python3)"
fi

static_busybox() {  # ldd exits 1 on a static binary: don't pipe it (pipefail)
  local out
  [[ -x /bin/busybox ]] || return 1
  out="$(LC_ALL=C ldd /bin/busybox 2>&1 || true)"
  [[ "$out" == *"not a dynamic executable"* ]]
}
if ! static_busybox; then
  echo "📦  Installing busybox-static (the base of the local images) ..."
  apt_install busybox-static
fi

if [[ " $* " == *" --ha "* ]] && ! command -v etcd >/dev/null 2>&1; then  # start --ha runs three etcd members
  echo "📦  Installing etcd-server (for start --ha) ..."
  apt_install etcd-server
fi

pip_args=(-q)
# Debian's own python refuses system-wide pip installs (PEP 668); this machine is the project's.
if [[ -f "$("$PY" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ]]; then
  pip_args+=(--break-system-packages)
fi
echo "📦  pip install -e . ..."
"$PY" -m pip install "${pip_args[@]}" -e .
# pip writes no bytecode where PYTHONDONTWRITEBYTECODE=1 (this machine's environment sets it), and
# neither do imports: without this every daemon, CLI call and node agent compiled FastAPI, pydantic
# and the package from source at each start (the API ready after ~1.1 s instead of ~0.6 s)
"$PY" scripts/compile_bytecode.py

scripts/ensure-docker.sh

echo "🔨  Building the local images ..."
"$PY" -m minikube_lite.images

"$PY" -m minikube_lite.cli.main start "$@"

if command -v kubectl >/dev/null 2>&1; then
  echo "📄  kubectl apply -f examples/seed/"
  kubectl apply -f examples/seed/
  cat <<'MSG'

🎉  Ready. Try, as in the course's notes:
      kubectl get pods                     # client-pod   1/1   Running
      kubectl get services                 # client-node-port   NodePort ... 3050:31515/TCP
      curl http://localhost:31515/         # the multi-client page, served by the pod
      docker ps                            # find client-pod's container, then: docker kill <its id>
      kubectl get pods                     # Running again, RESTARTS 1
      kubectl delete -f examples/seed/
      minikube-lite status | stop | delete
MSG
else
  cat <<'MSG'

⚠️  kubectl is not installed, so the demo was not applied. Install kubectl (any of 1.27-1.33),
    then: kubectl apply -f examples/seed/   (or use the plain HTTP API, see README.md)
MSG
fi
