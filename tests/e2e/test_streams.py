"""Streams with the real kubectl: port-forward, attach, ``run -it --rm``, cp, debug (ephemeral containers).

port-forward and attach are driven with the oldest kubectl here (1.27: SPDY/3.1 upgrades), 1.30
(the last that port-forwards over plain SPDY) and the newest (1.31+ port-forward through the
WebSocket tunnel ``SPDY/3.1+portforward.k8s.io``; 1.30+ attach over ``v5.channel.k8s.io``).
The pod serves HTTP with busybox httpd on two ports; a deployment and a service select it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import termios
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Cluster, free_port, pod_running, wait_for

APP = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: pf-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: pf-web}
  template:
    metadata:
      labels: {app: pf-web}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: minikube-lite/busybox:1.0
        command: ["sh", "-c", "mkdir -p /a /b && echo port-a > /a/index.html && echo port-b > /b/index.html &&
                  dd if=/dev/urandom of=/a/blob bs=1024 count=2048 2>/dev/null &&
                  httpd -p 3000 -h /a && exec httpd -f -p 4000 -h /b"]
        ports:
        - {name: http, containerPort: 3000}
        - {name: other, containerPort: 4000}
---
apiVersion: v1
kind: Service
metadata:
  name: pf-web
spec:
  selector: {app: pf-web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: other, port: 81, targetPort: 4000}
---
apiVersion: v1
kind: Pod
metadata:
  name: attach-pod
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: minikube-lite/busybox:1.0
    stdin: true
    command: ["sh", "-c", "while read line; do echo \\"got $line\\"; done"]
"""
PORT_FORWARD_VERSIONS = ["1.27", "1.30", "1.31", "1.33"]
ATTACH_VERSIONS = ["1.27", "1.33"]


@pytest.fixture(scope="module")
def web_pod(cluster: Cluster) -> Iterator[str]:
    cluster.kubectl("apply", "-f", "-", input=APP)

    def pod_name() -> str | None:
        pods = (cluster.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dpf-web") or {}).get("items") or []
        names = [p["metadata"]["name"] for p in pods if pod_running(cluster, p["metadata"]["name"])]
        return names[0] if names else None

    name = wait_for(pod_name, timeout=40, what="the pf-web pod to run")
    wait_for(lambda: pod_running(cluster, "attach-pod"), timeout=40, what="attach-pod to run")
    wait_for(lambda: _http_in_pod(cluster, name), timeout=20, what="httpd to answer in the pod")
    yield name
    cluster.kubectl("delete", "-f", "-", "--wait=false", input=APP, check=False)


def _http_in_pod(cluster: Cluster, pod: str) -> bool:
    proc = cluster.kubectl("exec", pod, "--", "wget", "-qO-", "http://127.0.0.1:4000/", check=False)
    return proc.stdout.strip() == "port-b"


@contextlib.contextmanager
def port_forward(cluster: Cluster, *args: str, version: str | None = None,
                 expect: int = 1) -> Iterator[subprocess.Popen[str]]:
    """``kubectl port-forward ARGS`` until ``expect`` "Forwarding from" lines are printed; SIGINT at the end."""
    proc = subprocess.Popen([*cluster.kubectl_cmd(version), "port-forward", *args], env=cluster.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    deadline = time.monotonic() + 20
    assert proc.stdout is not None
    while seen.count(b"Forwarding from") < expect:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"port-forward did not start: {seen!r} {proc.stderr.read() if proc.stderr else ''}")
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            seen += os.read(proc.stdout.fileno(), 4096)  # unbuffered: select must see what is left
    proc.forwarding = seen.decode().splitlines()  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def fetch(port: int, path: str = "/", host: str = "127.0.0.1") -> bytes:
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as r:
        return r.read()


@pytest.mark.parametrize("version", PORT_FORWARD_VERSIONS)
def test_port_forward_pod_several_ports(cluster: Cluster, web_pod: str, version: str) -> None:
    a, b = free_port(), free_port()
    with port_forward(cluster, f"pod/{web_pod}", f"{a}:3000", f"{b}:4000", version=version, expect=4) as proc:
        assert fetch(a) == b"port-a\n" and fetch(b) == b"port-b\n"
        blob = fetch(a, "/blob")
        assert len(blob) == 2048 * 1024
        # many connections at once through the one forward
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda i: fetch(a if i % 2 else b, "/blob" if i % 4 == 1 else "/"), range(48)))
        assert all(r == blob for r in results[1::4]) and all(r == b"port-b\n" for r in results[0::2])
        exec_hash = cluster.kubectl("exec", web_pod, "--", "md5sum", "/a/blob").stdout.split()[0]
        import hashlib
        assert hashlib.md5(blob).hexdigest() == exec_hash
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert any(f"Forwarding from 127.0.0.1:{a} -> 3000" in line for line in proc.forwarding)  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_port_forward_deployment_and_service(cluster: Cluster, web_pod: str, version: str) -> None:
    a, b = free_port(), free_port()
    with port_forward(cluster, "deploy/pf-web", f"{a}:3000", version=version, expect=2):
        assert fetch(a) == b"port-a\n"
    # svc/x: kubectl maps the service port to the pod's target port (named or numbered)
    with port_forward(cluster, "svc/pf-web", f"{a}:80", f"{b}:81", version=version, expect=4) as proc:
        assert fetch(a) == b"port-a\n" and fetch(b) == b"port-b\n"
    assert any("-> 3000" in line for line in proc.forwarding)  # type: ignore[attr-defined]


def test_port_forward_address_and_random_local_port(cluster: Cluster, web_pod: str) -> None:
    with port_forward(cluster, "--address", "0.0.0.0", f"pod/{web_pod}", ":4000") as proc:
        line = proc.forwarding[0]  # type: ignore[attr-defined]
        match = re.search(r"Forwarding from 0\.0\.0\.0:(\d+) -> 4000", line)
        assert match, line
        assert fetch(int(match.group(1))) == b"port-b\n"


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_port_forward_to_a_closed_port_shows_kubectls_error(cluster: Cluster, web_pod: str, version: str) -> None:
    a = free_port()
    with port_forward(cluster, f"pod/{web_pod}", f"{a}:3999", version=version) as proc:
        with pytest.raises(OSError):
            fetch(a)
        proc.wait(timeout=15)  # kubectl 1.27+ gives up: "error: lost connection to pod"
    stderr = proc.stderr.read() if proc.stderr else ""
    assert f"an error occurred forwarding {a} -> 3999: error forwarding port 3999 to pod {web_pod}" in stderr
    assert "connect: connection refused" in stderr and "lost connection to pod" in stderr
    assert proc.returncode == 1


def test_port_forward_survives_clients_that_hang_up(cluster: Cluster, web_pod: str) -> None:
    import socket

    a = free_port()
    with port_forward(cluster, f"pod/{web_pod}", f"{a}:3000", version="1.33"):
        for _ in range(5):  # connect and drop without reading, mid-download
            with socket.create_connection(("127.0.0.1", a), timeout=5) as s:
                s.sendall(b"GET /blob HTTP/1.0\r\n\r\n")
                s.recv(100)
        assert fetch(a) == b"port-a\n"


def test_port_forward_to_a_pod_that_does_not_run(cluster: Cluster) -> None:
    proc = cluster.kubectl("port-forward", "pod/no-such-pod", "1234:80", check=False, timeout=20)
    assert proc.returncode == 1 and 'pods "no-such-pod" not found' in proc.stderr


@pytest.mark.parametrize("version", ATTACH_VERSIONS)
def test_attach_stdin_and_output(cluster: Cluster, web_pod: str, version: str) -> None:
    proc = subprocess.Popen([*cluster.kubectl_cmd(version), "attach", "-i", "attach-pod"], env=cluster.env,
                            text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        time.sleep(1.0)  # the attach is set up before the line is sent (output is not replayed)
        proc.stdin.write(f"hello {version}\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "no output through attach"
        assert proc.stdout.readline() == f"got hello {version}\n"
    finally:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
    assert pod_running(cluster, "attach-pod"), "detaching must leave the process running"


def _interactive(argv: list[str], env: dict[str, str], steps: list[tuple[bytes, bytes]],
                 rows: int = 33, cols: int = 111, timeout: float = 60) -> tuple[int, bytes]:
    """Run ``argv`` on a terminal of rows x cols; for each (wait_for, send) send once wait_for appeared."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(argv, env=env, stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True,
                            start_new_session=True)
    os.close(secondary)
    out, deadline = b"", time.monotonic() + timeout
    try:
        for wait_text, send in steps:
            while wait_text not in out:
                assert time.monotonic() < deadline, out
                ready, _, _ = select.select([primary], [], [], 0.2)
                if ready:
                    with contextlib.suppress(OSError):
                        out += os.read(primary, 4096)
            time.sleep(0.3)
            os.write(primary, send)
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    out += os.read(primary, 4096)
                except OSError:
                    break
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        return proc.returncode, out
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)


@pytest.mark.parametrize("version", ATTACH_VERSIONS)
def test_run_it_rm_shell_with_tty_and_resize(cluster: Cluster, version: str) -> None:
    name = f"shell-{version.replace('.', '')}"
    argv = [*cluster.kubectl_cmd(version), "run", name, "--image=minikube-lite/busybox:1.0", "-it", "--rm",
            "--restart=Never", "--", "sh"]
    code, out = _interactive(argv, cluster.env, [(b"try pressing enter", b"\r"),
                                                 (b"# ", b"stty size; echo mark-$((6*7))\r"),
                                                 (b"mark-42", b"exit\r")])
    text = out.decode(errors="replace")
    assert code == 0, text
    assert "33 111" in text, text  # the terminal's size reached the container's TTY
    assert f'pod "{name}" deleted' in text
    wait_for(lambda: cluster.pod(name) is None, timeout=20, what="the pod to be deleted")


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_cp_both_ways(cluster: Cluster, web_pod: str, version: str, tmp_path: Path) -> None:
    src = tmp_path / "up.txt"
    src.write_text("copied up\n" * 1000)
    cluster.kubectl("cp", str(src), f"{web_pod}:/tmp/up.txt", version=version)
    back = tmp_path / "back.txt"
    cluster.kubectl("cp", f"{web_pod}:/tmp/up.txt", str(back), version=version)
    assert back.read_text() == src.read_text()


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_debug_adds_an_ephemeral_container_sharing_the_targets_processes(cluster: Cluster, web_pod: str,
                                                                        version: str) -> None:
    proc = cluster.kubectl("debug", web_pod, "-i", "--image=minikube-lite/busybox:1.0", "--target=web",
                           "--profile=general", f"--container=dbg-{version.replace('.', '')}", "--",
                           "sh", version=version, input='ps | grep -c "[h]ttpd -f -p 4000"; echo bye; exit 3\n',
                           check=False, timeout=60)
    assert "1\nbye\n" in proc.stdout, (proc.stdout, proc.stderr)  # the pod's httpd is visible from the debugger
    pod = cluster.pod(web_pod) or {}
    ephemeral = {c["name"]: c for c in pod["spec"].get("ephemeralContainers") or []}
    assert ephemeral[f"dbg-{version.replace('.', '')}"]["targetContainerName"] == "web"

    def finished() -> dict | None:
        statuses = ((cluster.pod(web_pod) or {}).get("status") or {}).get("ephemeralContainerStatuses") or []
        mine = [s for s in statuses if s["name"] == f"dbg-{version.replace('.', '')}"]
        return mine[0] if mine and "terminated" in mine[0]["state"] else None

    status = wait_for(finished, timeout=20, what="the ephemeral container's status")
    assert status["state"]["terminated"]["exitCode"] == 3 and status["ready"] is False
    assert pod_running(cluster, web_pod, restarts=0), "the pod's own containers are untouched"
    logs = cluster.kubectl("logs", web_pod, "-c", f"dbg-{version.replace('.', '')}").stdout
    assert logs == "1\nbye\n"


def test_ephemeral_containers_may_only_be_added(cluster: Cluster, web_pod: str) -> None:
    cluster.kubectl("debug", web_pod, "--image=minikube-lite/busybox:1.0", "--container=keep", "--profile=general",
                    "--", "true")
    removed = cluster.kubectl("patch", "pod", web_pod, "--subresource=ephemeralcontainers", "--type=json",
                              "-p", '[{"op":"remove","path":"/spec/ephemeralContainers/0"}]', check=False)
    assert removed.returncode == 1
    assert "may not be removed" in removed.stderr and f'The Pod "{web_pod}" is invalid' in removed.stderr
    ports = cluster.kubectl("patch", "pod", web_pod, "--subresource=ephemeralcontainers", "--type=strategic", "-p",
                            '{"spec":{"ephemeralContainers":[{"name":"withport","image":"minikube-lite/busybox:1.0",'
                            '"ports":[{"containerPort":80}]}]}}', check=False)
    assert ports.returncode == 1 and "cannot be set for an Ephemeral Container" in ports.stderr, ports.stderr
    plain = cluster.kubectl("patch", "pod", web_pod, "--type=merge", "-p",
                            '{"spec":{"ephemeralContainers":[{"name":"sneaky","image":"x"}]}}', check=False)
    assert plain.returncode == 1, "only the subresource may add ephemeral containers"


def _raw_upgrade(cluster: Cluster, path: str, headers: str) -> tuple[bytes, socket.socket]:
    host, port = cluster.url.split("://", 1)[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    if cluster.url.startswith("https://"):
        s = cluster.ssl_context().wrap_socket(s, server_hostname=host)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n{headers}\r\n"
              .encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return head, s


def test_bad_spdy_requests_get_a_status_and_the_daemon_lives(cluster: Cluster, web_pod: str) -> None:
    path = f"/api/v1/namespaces/default/pods/{web_pod}/portforward"
    head, s = _raw_upgrade(cluster, path, "X-Stream-Protocol-Version: nope.k8s.io\r\n")
    while chunk := s.recv(4096):  # the Status body; then the server closes
        head += chunk
    s.close()
    assert head.startswith(b"HTTP/1.1 403") and b"unable to negotiate protocol" in head, head
    head, s = _raw_upgrade(cluster, "/api/v1/namespaces/default/pods/no-such-pod/portforward",
                           "X-Stream-Protocol-Version: portforward.k8s.io\r\n")
    s.close()
    assert head.startswith(b"HTTP/1.1 404"), head
    head, s = _raw_upgrade(cluster, path, "X-Stream-Protocol-Version: portforward.k8s.io\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    s.sendall(b"\x80\x03\x00\x01\x00\x00\x00\x02\x00\x01" + b"garbage that is not SPDY" * 10)
    s.settimeout(10)
    with contextlib.suppress(OSError):
        while s.recv(4096):  # the server closes the connection
            pass
    s.close()
    assert cluster.get("/version")["major"] == "1"
    a = free_port()
    with port_forward(cluster, f"pod/{web_pod}", f"{a}:4000"):
        assert fetch(a) == b"port-b\n"
