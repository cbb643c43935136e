"""Probes on the real cluster: readiness drives READY, liveness restarts, startup holds back, bad ports."""

from __future__ import annotations

import time
from typing import Any

from .conftest import Cluster, wait_for

BUSYBOX = "minikube-lite/busybox:1.0"


def _apply(cluster: Cluster, manifest: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=manifest)


def _status(cluster: Cluster, name: str) -> dict[str, Any]:
    return (cluster.pod(name) or {}).get("status") or {}


def _cstatus(cluster: Cluster, name: str) -> dict[str, Any]:
    statuses = _status(cluster, name).get("containerStatuses") or [{}]
    return statuses[0]


def _condition(cluster: Cluster, name: str, kind: str) -> str | None:
    for c in _status(cluster, name).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("status")
    return None


def _events(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    data = cluster.get(f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name={name}") or {}
    return data.get("items") or []


def _ready_column(cluster: Cluster, name: str) -> str:
    return cluster.kubectl("get", "pod", name, "--no-headers").stdout.split()[1]


def test_readiness_http_drives_ready_within_a_period(cluster: Cluster) -> None:
    _apply(cluster, f"""
apiVersion: v1
kind: Pod
metadata: {{name: ready-http}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: {BUSYBOX}
    command: ["sh", "-c", "mkdir -p /www && exec httpd -f -p 8080 -h /www"]
    ports: [{{name: http, containerPort: 8080}}]
    readinessProbe:
      httpGet: {{path: /ready.txt, port: http, httpHeaders: [{{name: X-Probe, value: "yes"}}]}}
      periodSeconds: 1
""")
    try:
        wait_for(lambda: "running" in (_cstatus(cluster, "ready-http").get("state") or {}), timeout=30,
                 what="running")
        time.sleep(1.5)
        assert _cstatus(cluster, "ready-http")["ready"] is False
        assert _condition(cluster, "ready-http", "Ready") == "False"
        assert _ready_column(cluster, "ready-http") == "0/1"
        assert any(e["reason"] == "Unhealthy" and "statuscode: 404" in e["message"]
                   for e in _events(cluster, "ready-http"))

        cluster.kubectl("exec", "ready-http", "--", "touch", "/www/ready.txt")
        t0 = time.monotonic()
        wait_for(lambda: _cstatus(cluster, "ready-http").get("ready"), timeout=5, interval=0.02, what="ready")
        assert time.monotonic() - t0 <= 1.0 + 0.2 + 0.3  # one period + 0.2 s (+ the test's own polling)
        assert _condition(cluster, "ready-http", "ContainersReady") == "True"
        assert _ready_column(cluster, "ready-http") == "1/1"

        cluster.kubectl("exec", "ready-http", "--", "rm", "/www/ready.txt")
        wait_for(lambda: _cstatus(cluster, "ready-http").get("ready") is False, timeout=5, interval=0.02,
                 what="unready again")
        assert _cstatus(cluster, "ready-http")["restartCount"] == 0  # readiness never restarts
    finally:
        cluster.kubectl("delete", "pod", "ready-http", "--wait=false", check=False)


def test_liveness_exec_failure_restarts_the_container(cluster: Cluster) -> None:
    _apply(cluster, f"""
apiVersion: v1
kind: Pod
metadata: {{name: live-exec}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600"]
    livenessProbe:
      exec: {{command: ["cat", "/tmp/healthy"]}}
      periodSeconds: 1
      failureThreshold: 2
""")
    try:
        wait_for(lambda: _cstatus(cluster, "live-exec").get("restartCount", 0) >= 1, timeout=20,
                 what="a restart after the liveness failures")
        reasons = [e["reason"] for e in sorted(_events(cluster, "live-exec"), key=lambda e: e["firstTimestamp"])]
        assert "Unhealthy" in reasons and "Killing" in reasons
        killing = next(e for e in _events(cluster, "live-exec") if e["reason"] == "Killing")
        assert killing["message"] == "Container app failed liveness probe, will be restarted"
        unhealthy = next(e for e in _events(cluster, "live-exec") if e["reason"] == "Unhealthy")
        assert unhealthy["message"].startswith("Liveness probe failed: cat")
        wait_for(lambda: "running" in (_cstatus(cluster, "live-exec").get("state") or {}), timeout=10,
                 what="running again")
    finally:
        cluster.kubectl("delete", "pod", "live-exec", "--wait=false", check=False)


def test_startup_probe_holds_readiness_back(cluster: Cluster) -> None:
    _apply(cluster, f"""
apiVersion: v1
kind: Pod
metadata: {{name: startup-tcp}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sh", "-c", "mkdir -p /www; touch /www/index.html; sleep 3; exec httpd -f -p 9000 -h /www"]
    startupProbe:
      tcpSocket: {{port: 9000}}
      periodSeconds: 1
      failureThreshold: 10
    readinessProbe:
      exec: {{command: ["true"]}}
      periodSeconds: 1
""")
    try:
        wait_for(lambda: "running" in (_cstatus(cluster, "startup-tcp").get("state") or {}), timeout=30,
                 what="running")
        s = _cstatus(cluster, "startup-tcp")
        assert s["started"] is False and s["ready"] is False
        wait_for(lambda: _cstatus(cluster, "startup-tcp").get("started"), timeout=10, what="started")
        wait_for(lambda: _cstatus(cluster, "startup-tcp").get("ready"), timeout=5, what="ready")
        assert _cstatus(cluster, "startup-tcp")["restartCount"] == 0
        assert any(e["reason"] == "Unhealthy" and e["message"].startswith("Startup probe failed: dial tcp")
                   for e in _events(cluster, "startup-tcp"))
    finally:
        cluster.kubectl("delete", "pod", "startup-tcp", "--wait=false", check=False)


def test_readiness_on_a_port_nothing_listens_on(cluster: Cluster) -> None:
    _apply(cluster, f"""
apiVersion: v1
kind: Pod
metadata: {{name: ready-refused}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sleep", "3600"]
    readinessProbe:
      httpGet: {{path: /, port: 8081}}
      periodSeconds: 1
""")
    try:
        wait_for(lambda: any(e["reason"] == "Unhealthy" and "connection refused" in e["message"]
                             for e in _events(cluster, "ready-refused")), timeout=30, what="Unhealthy event")
        assert _cstatus(cluster, "ready-refused")["ready"] is False
        assert _status(cluster, "ready-refused")["phase"] == "Running"
    finally:
        cluster.kubectl("delete", "pod", "ready-refused", "--wait=false", check=False)
