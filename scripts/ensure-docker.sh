#!/usr/bin/env bash
# Make sure a Docker engine answers, starting one when none does (and we may).
#
# Why: minikube-lite runs pods as containers on the machine's own Docker engine, and a fresh
# machine of this kind has dockerd installed-or-installable but not running (no systemd to start
# it). Used by scripts/setup.sh (the README's first command) and scripts/test.sh (CI).
#
# What it does, in order:
#   1. `docker info` works -> done.
#   2. Not root -> print exactly what to do, exit 1.
#   3. No dockerd/docker -> apt-get install docker.io.
#   4. A pid file whose process is gone (a killed engine) is removed, else dockerd refuses to start.
#   5. systemd runs -> systemctl start docker; otherwise dockerd in the background (nohup, setsid),
#      logging to /var/log/dockerd.log.
#   6. Wait until `docker info` works (60 s), else show the end of the log and exit 1.
#
# Knobs (for tests of this script; defaults are Docker's own): DOCKER_HOST (unix:// only),
# DOCKERD_PIDFILE, DOCKERD_EXEC_ROOT, DOCKERD_LOG, DOCKERD_EXTRA_ARGS, DOCKERD_TIMEOUT.
set -euo pipefail

PIDFILE="${DOCKERD_PIDFILE:-/var/run/docker.pid}"
EXEC_ROOT="${DOCKERD_EXEC_ROOT:-/var/run/docker}"
LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
TIMEOUT="${DOCKERD_TIMEOUT:-60}"
SOCKET="/var/run/docker.sock"
if [[ "${DOCKER_HOST:-}" == unix://* ]]; then SOCKET="${DOCKER_HOST#unix://}"; fi

engine_up() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if engine_up; then
  echo "🐳  Docker engine is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  if [[ -S "$SOCKET" && ! -w "$SOCKET" ]]; then
    cat >&2 <<MSG
🔒  A Docker engine runs, but your user may not use its socket $SOCKET (permission denied).
    Fix: sudo usermod -aG docker "\$USER", then log in again (or run: newgrp docker). Then run this again.
MSG
  else
    cat >&2 <<MSG
❌  No Docker engine answers, and only root can start one. Do, as root (sudo):
      apt-get update && apt-get install -y docker.io     # if dockerd is not installed
      systemctl start docker                             # with systemd, or else:
      nohup dockerd >/var/log/dockerd.log 2>&1 &         # start the engine in the background
      usermod -aG docker "\$USER"                         # let your user use it (log in again)
    then run this again.
MSG
  fi
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  echo "📦  Installing the Docker engine (apt-get install docker.io) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q docker.io
  if engine_up; then echo "🐳  Docker engine is up"; exit 0; fi  # the package's service may have started it
fi

# The pid of a live (not zombie) process named $2 whose pid is in file $1; fails when there is none.
live_pid() {
  local file="$1" name="$2" pid state
  [[ -f "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file" || true)"
  [[ -n "$pid" ]] || return 1
  state="$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ -n "$state" && "$state" != Z && "$state" != X ]] || return 1
  grep -q "$name" "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

# A pid file left by a killed engine blocks a new one ("pid file found, ensure docker is not running").
remove_if_stale() {
  local file="$1" name="$2"
  if [[ -f "$file" ]] && ! live_pid "$file" "$name" >/dev/null; then
    echo "🧹  Removing stale pid file $file (its process is gone)"
    rm -f "$file"
  fi
}

start_engine() {
  launches=$((launches + 1))
  remove_if_stale "$PIDFILE" dockerd
  # The containerd of a killed engine lingers a moment; a new engine that finds it alive waits
  # for it and times out. Let it go first.
  local i
  for ((i = 0; i < 50; i++)); do
    live_pid "$EXEC_ROOT/containerd/containerd.pid" containerd >/dev/null || break
    sleep 0.1
  done
  remove_if_stale "$EXEC_ROOT/containerd/containerd.pid" containerd
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1 && [[ -z "${DOCKER_HOST:-}" ]]; then
    echo "🚀  Starting the Docker engine (systemctl start docker) ..."
    systemctl start docker || true
    return
  fi
  echo "🚀  Starting the Docker engine (dockerd in the background, log: $LOG) ..."
  local args=(--pidfile "$PIDFILE")
  if [[ -n "${DOCKERD_EXEC_ROOT:-}" ]]; then args+=(--exec-root "$EXEC_ROOT"); fi
  if [[ -n "${DOCKER_HOST:-}" ]]; then args+=(-H "$DOCKER_HOST"); fi
  # shellcheck disable=SC2206 # word splitting wanted: extra args for tests
  args+=(${DOCKERD_EXTRA_ARGS:-})
  mkdir -p "$(dirname "$LOG")"
  setsid nohup dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null &
  launched=$!
}

fail() {
  echo "❌  $1 Last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2 2>/dev/null || true
  exit 1
}

launched=""
launches=0
if pid="$(live_pid "$PIDFILE" dockerd)"; then
  echo "⏳  dockerd (pid $pid) is running but not answering yet; waiting ..."
else
  start_engine
fi
deadline=$((SECONDS + TIMEOUT))
until engine_up; do
  if [[ -n "$launched" ]] && ! kill -0 "$launched" 2>/dev/null; then
    if ((launches >= 3)); then fail "dockerd exited before the engine answered (3 tries)."; fi
    echo "↻  dockerd exited before answering; trying again ..."
    start_engine
  fi
  if [[ -z "$launched" ]] && ! live_pid "$PIDFILE" dockerd >/dev/null && [[ ! -d /run/systemd/system ]]; then
    start_engine  # the engine we waited for died
  fi
  if ((SECONDS >= deadline)); then
    fail "The Docker engine did not answer within ${TIMEOUT}s."
  fi
  sleep 0.3
done
echo "🐳  Docker engine is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
