"""The images of the multi-tier example (``examples/multi-tier/``), built from static busybox.

The course's multi-tier app is a React page, an Express API, a worker, Redis and Postgres. No
registry is reachable here, so each gets a small stand-in made of busybox applets, with the same
ports, the same environment variables and the same roles:

* ``minikube-lite/multi-web:1.0`` (port 3000) -- the page: a form that submits an index to
  ``/api/values`` and lists what the store holds, through the Ingress.
* ``minikube-lite/multi-server:1.0`` (port 5000) -- the API: HTTP answered by a shell script
  behind ``nc -ll -e`` (one process per connection): ``GET /values/current`` (from the Redis-like
  store), ``GET /values/all`` (from the Postgres-like store), ``POST /values`` (``{"index": N}``:
  recorded in both, queued for the worker).
* ``minikube-lite/multi-worker:1.0`` -- the worker: polls the Redis-like store for queued indexes
  and stores fib(N) back.
* ``minikube-lite/redis-lite:1.0`` (port 6379) and ``minikube-lite/postgres-lite:1.0`` (port 5432)
  -- one tiny key-value store: a line in (``SET k v``, ``GET k``, ``DEL k``, ``KEYS prefix``,
  ``DUMP prefix``, ``PING``), lines out, one file per key under its data folder. The Postgres-like
  one keeps its data in ``/var/lib/postgresql/data`` (the example mounts a PVC there with
  ``subPath: postgres``) and, like the real image, refuses to start without
  ``POSTGRES_PASSWORD``; every command must then start with ``AUTH <password>``.

The stores are reached by their Service names (``redis-cluster-ip-service``,
``postgres-cluster-ip-service``) through the cluster DNS, exactly as in the course.
"""

from __future__ import annotations

from typing import Any

WEB_IMAGE = "minikube-lite/multi-web:1.0"
SERVER_IMAGE = "minikube-lite/multi-server:1.0"
WORKER_IMAGE = "minikube-lite/multi-worker:1.0"
REDIS_IMAGE = "minikube-lite/redis-lite:1.0"
POSTGRES_IMAGE = "minikube-lite/postgres-lite:1.0"

# PID 1 of every image traps SIGTERM so a pod stops at once instead of after its grace period.
_SERVE = """
child=$!
trap 'kill "$child" 2>/dev/null; exit 0' TERM INT
wait "$child"
"""

STORE_START = r"""#!/bin/sh
# A tiny key-value store: one command per TCP connection (see /app/handle.sh).
PORT="${PORT:-6379}"
export DATA_DIR="${DATA_DIR:-/data}"
if [ "$REQUIRE_PASSWORD" = "1" ] && [ -z "$POSTGRES_PASSWORD" ]; then
  echo "Error: the database is uninitialized and POSTGRES_PASSWORD is not specified." >&2
  echo "       Set it, e.g. from a Secret: env.valueFrom.secretKeyRef (name: pgpassword, key: PGPASSWORD)" >&2
  exit 1
fi
export STORE_PASSWORD="$POSTGRES_PASSWORD"
mkdir -p "$DATA_DIR" || exit 1
echo "$STORE_NAME: $(ls "$DATA_DIR" | wc -l) keys in $DATA_DIR, listening on port $PORT"
nc -ll -p "$PORT" -e /app/handle.sh &
""" + _SERVE

STORE_HANDLE = r"""#!/bin/sh
# One connection: "[AUTH <password>] COMMAND [KEY [VALUE]]" in, the answer out.
read -r line || exit 0
line=$(printf '%s' "$line" | tr -d '\r')
if [ -n "$STORE_PASSWORD" ]; then
  case "$line" in
    "AUTH $STORE_PASSWORD "*) line=${line#"AUTH $STORE_PASSWORD "} ;;
    *) echo "ERR password authentication failed"; exit 0 ;;
  esac
fi
cmd=${line%% *}
rest=${line#"$cmd"}; rest=${rest# }
key=${rest%% *}
value=${rest#"$key"}; value=${value# }
case "$key" in
  *[!A-Za-z0-9_.:-]*) echo "ERR bad key"; exit 0 ;;
esac
case "$cmd" in
  PING) echo PONG ;;
  SET) [ -n "$key" ] || { echo "ERR no key"; exit 0; }
       printf '%s\n' "$value" > "$DATA_DIR/$key.tmp" && mv "$DATA_DIR/$key.tmp" "$DATA_DIR/$key" && echo OK ;;
  GET) if [ -f "$DATA_DIR/$key" ]; then cat "$DATA_DIR/$key"; else echo "(nil)"; fi ;;
  DEL) rm -f "$DATA_DIR/$key"; echo OK ;;
  KEYS) for f in "$DATA_DIR/$key"*; do [ -f "$f" ] && echo "${f##*/}"; done ;;
  DUMP) for f in "$DATA_DIR/$key"*; do [ -f "$f" ] && echo "${f##*/} $(cat "$f")"; done ;;
  *) echo "ERR unknown command '$cmd'" ;;
esac
"""

# The client side of the store protocol, shared by the API and the worker.
STORE_CLIENT = r"""
redis() { echo "$*" | nc -w 3 "${REDIS_HOST:-redis-cluster-ip-service}" "${REDIS_PORT:-6379}"; }
pg() { echo "AUTH $PGPASSWORD $*" | nc -w 3 "${PGHOST:-postgres-cluster-ip-service}" "${PGPORT:-5432}"; }
"""

SERVER_START = r"""#!/bin/sh
PORT="${PORT:-5000}"
echo "multi-server: listening on port $PORT (redis at $REDIS_HOST:$REDIS_PORT, postgres at $PGHOST:$PGPORT)"
nc -ll -p "$PORT" -e /app/api.sh &
""" + _SERVE

SERVER_API = r"""#!/bin/sh
# One HTTP request in, one response out (HTTP/1.0, the connection closes after it).
. /app/store.sh
respond() {  # status, body
  printf 'HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "$(printf '%s' "$2" | wc -c)" "$2"
}
read -r method path _proto || exit 0
length=0
while read -r header; do
  header=$(printf '%s' "$header" | tr -d '\r')
  [ -z "$header" ] && break
  case "$header" in
    [Cc]ontent-[Ll]ength:*) length=$(echo "${header#*:}" | tr -d ' ') ;;
  esac
done
body=""
[ "$length" -gt 0 ] 2>/dev/null && body=$(head -c "$length")
path=${path%%\?*}
echo "multi-server: $method $path" >&2
case "$method $path" in
  "GET /"|"GET /api"|"GET /api/") respond "200 OK" '"Hi"' ;;
  "GET /values/all"|"GET /api/values/all")
    out=$(pg DUMP index:) || { respond "503 Service Unavailable" '{"error":"postgres unreachable"}'; exit 0; }
    case "$out" in ERR*) respond "500 Internal Server Error" "{\"error\":\"$out\"}"; exit 0 ;; esac
    json=$(echo "$out" | awk 'NF==2 {printf "%s{\"number\":%s}", sep, $2; sep=","}')
    respond "200 OK" "[$json]" ;;
  "GET /values/current"|"GET /api/values/current")
    out=$(redis DUMP value:) || { respond "503 Service Unavailable" '{"error":"redis unreachable"}'; exit 0; }
    json=$(echo "$out" | awk 'NF>=2 {k=$1; sub(/^value:/, "", k); $1=""; sub(/^ /, ""); printf "%s\"%s\":\"%s\"", sep, k, $0; sep=","}')
    respond "200 OK" "{$json}" ;;
  "POST /values"|"POST /api/values")
    index=$(printf '%s' "$body" | sed -n 's/.*"index"[^0-9]*\([0-9][0-9]*\).*/\1/p')
    if [ -z "$index" ]; then respond "400 Bad Request" '{"error":"send {\"index\": N}"}'; exit 0; fi
    if [ "$index" -gt 40 ]; then respond "422 Unprocessable Entity" '"Index too high"'; exit 0; fi
    redis SET "value:$index" "Nothing yet!" >/dev/null && redis SET "pending:$index" 1 >/dev/null \
      && pg SET "index:$index" "$index" >/dev/null \
      || { respond "503 Service Unavailable" '{"error":"a store is unreachable"}'; exit 0; }
    respond "200 OK" '{"working":true}' ;;
  *) respond "404 Not Found" '{"error":"not found"}' ;;
esac
"""

WORKER_START = r"""#!/bin/sh
# Polls the Redis-like store for queued indexes and stores fib(index) back.
. /app/store.sh
fib() { a=1; b=1; i=1; while [ "$i" -lt "$1" ]; do t=$((a + b)); a=$b; b=$t; i=$((i + 1)); done; echo "$b"; }
trap 'exit 0' TERM INT
echo "multi-worker: watching ${REDIS_HOST:-redis-cluster-ip-service}:${REDIS_PORT:-6379} (pod $(hostname))"
while true; do
  for key in $(redis KEYS pending: 2>/dev/null); do
    case "$key" in pending:*) ;; *) continue ;; esac
    n=${key#pending:}
    v=$(fib "$n")
    redis SET "value:$n" "$v" >/dev/null && redis DEL "$key" >/dev/null && echo "multi-worker: fib($n) = $v"
  done
  sleep 1 &
  wait $!
done
"""

WEB_START = r"""#!/bin/sh
PORT="${PORT:-3000}"
sed "s/__POD__/$(hostname)/" /app/index.html > /www/index.html
echo "multi-web: serving the page on port $PORT"
httpd -f -p "$PORT" -h /www &
""" + _SERVE

WEB_PAGE = r"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Fib Calculator</title>
<style>body{font-family:sans-serif;margin:2em;max-width:40em} li{margin:.2em 0} small{color:#777}</style></head>
<body>
<h1>Fib Calculator</h1>
<p><small>multi-web, served from pod __POD__ · the API answers at /api/ through the Ingress</small></p>
<form id="f"><label>Enter your index: <input id="index" size="4" inputmode="numeric"></label>
<button>Submit</button> <span id="msg"></span></form>
<h3>Indexes I have seen:</h3><p id="seen"></p>
<h3>Calculated values:</h3><ul id="values"></ul>
<script>
async function refresh() {
  try {
    const all = await (await fetch("/api/values/all")).json();
    document.getElementById("seen").textContent = all.map((v) => v.number).join(", ");
    const cur = await (await fetch("/api/values/current")).json();
    document.getElementById("values").innerHTML = Object.entries(cur)
      .sort((a, b) => a[0] - b[0])
      .map(([k, v]) => `<li>For index ${k} I calculated ${v}</li>`).join("");
  } catch (e) { document.getElementById("msg").textContent = "API not reachable: " + e; }
}
document.getElementById("f").onsubmit = async (e) => {
  e.preventDefault();
  const r = await fetch("/api/values", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({index: document.getElementById("index").value})});
  document.getElementById("msg").textContent = r.ok ? "" : await r.text();
  document.getElementById("index").value = "";
  refresh();
};
refresh(); setInterval(refresh, 2000);
</script>
</body></html>
"""


def specs(image_spec: Any, env_path: str) -> list[Any]:
    """The ImageSpecs of the multi-tier images (``image_spec`` is images.ImageSpec)."""
    def script(text: str) -> tuple[bytes, int]:
        return text.encode(), 0o755

    store_files = {"app/start.sh": script(STORE_START), "app/handle.sh": script(STORE_HANDLE)}
    client_files = {"app/store.sh": script(STORE_CLIENT)}
    run = 'CMD ["/bin/sh", "/app/start.sh"]'
    return [
        image_spec(ref=WEB_IMAGE, changes=[env_path, run, "WORKDIR /app", "EXPOSE 3000"], dirs=["app"],
                   files={"app/start.sh": script(WEB_START), "app/index.html": (WEB_PAGE.encode(), 0o644)}),
        image_spec(ref=SERVER_IMAGE, changes=[env_path, run, "WORKDIR /app", "EXPOSE 5000"], dirs=["app"],
                   files={"app/start.sh": script(SERVER_START), "app/api.sh": script(SERVER_API), **client_files}),
        image_spec(ref=WORKER_IMAGE, changes=[env_path, run, "WORKDIR /app"], dirs=["app"],
                   files={"app/start.sh": script(WORKER_START), **client_files}),
        image_spec(ref=REDIS_IMAGE, dirs=["app", "data"], files=store_files,
                   changes=[env_path, run, "WORKDIR /data", "EXPOSE 6379", "ENV PORT=6379",
                            "ENV DATA_DIR=/data", "ENV STORE_NAME=redis-lite"]),
        image_spec(ref=POSTGRES_IMAGE, dirs=["app", "var/lib", "var/lib/postgresql",
                                             "var/lib/postgresql/data"], files=store_files,
                   changes=[env_path, run, "WORKDIR /var/lib/postgresql", "EXPOSE 5432", "ENV PORT=5432",
                            "ENV DATA_DIR=/var/lib/postgresql/data", "ENV REQUIRE_PASSWORD=1",
                            "ENV STORE_NAME=postgres-lite"]),
    ]
