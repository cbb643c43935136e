"""``kubectl exec`` against the real cluster: output, stdin, exit codes, ``-c``, a TTY, SPDY for old kubectl."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import time

import pytest

from .conftest import Cluster, pod_running, wait_for

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: exec-pod
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: minikube-lite/busybox:1.0
    command: ["sleep", "3600"]
  - name: side
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "echo side > /tmp/who; sleep 3600"]
"""


@pytest.fixture(scope="module")
def exec_pod(cluster: Cluster):
    cluster.kubectl("apply", "-f", "-", input=POD)
    wait_for(lambda: pod_running(cluster, "exec-pod"), timeout=30, what="exec-pod running")
    yield "exec-pod"
    cluster.kubectl("delete", "pod", "exec-pod", "--wait=false", check=False)


def test_exec_prints_output_and_stderr(cluster: Cluster, exec_pod: str) -> None:
    proc = cluster.kubectl("exec", exec_pod, "-c", "main", "--", "sh", "-c", "echo out; echo err >&2")
    assert proc.stdout == "out\n"
    assert proc.stderr == "err\n"


def test_exec_exit_code_is_propagated(cluster: Cluster, exec_pod: str) -> None:
    proc = cluster.kubectl("exec", exec_pod, "-c", "main", "--", "sh", "-c", "exit 7", check=False)
    assert proc.returncode == 7, proc.stderr
    assert "command terminated with exit code 7" in proc.stderr


def test_exec_picks_the_container(cluster: Cluster, exec_pod: str) -> None:
    wait_for(lambda: cluster.kubectl("exec", exec_pod, "-c", "side", "--", "cat", "/tmp/who",
                                     check=False).stdout == "side\n", timeout=10, what="side's file")
    # containers of one pod share the network namespace but not their file systems
    assert cluster.kubectl("exec", exec_pod, "-c", "main", "--", "cat", "/tmp/who", check=False).returncode == 1


def test_exec_stdin_reaches_the_process(cluster: Cluster, exec_pod: str) -> None:
    proc = cluster.kubectl("exec", "-i", exec_pod, "-c", "main", "--", "sh", "-c", "tr a-z A-Z; echo done",
                           input="hello\nworld\n", timeout=20)
    assert proc.stdout == "HELLO\nWORLD\ndone\n"


def test_exec_unknown_container_and_missing_pod(cluster: Cluster, exec_pod: str) -> None:
    proc = cluster.kubectl("exec", exec_pod, "-c", "nope", "--", "true", check=False)
    assert proc.returncode != 0
    assert "nope" in proc.stderr
    proc = cluster.kubectl("exec", "no-such-pod", "--", "true", check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr


def test_exec_interactive_tty_shell(cluster: Cluster, exec_pod: str) -> None:
    """``kubectl exec -it pod -- sh`` on a real pseudo-terminal: prompt, a command, exit status."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([*cluster.kubectl_cmd(), "exec", "-it", exec_pod, "-c", "main", "--", "sh"],
                            stdin=secondary, stdout=secondary, stderr=secondary, env=cluster.env, close_fds=True)
    os.close(secondary)
    seen = b""

    def read_until(marker: bytes, timeout: float = 10) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(primary, 4096)
                except OSError:
                    break
        return seen

    try:
        os.write(primary, b"echo $((6*7)); stty size\n")
        assert b"42" in read_until(b"42"), seen
        os.write(primary, b"exit 3\n")
        assert proc.wait(timeout=10) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)


@pytest.mark.parametrize("version", ["1.27", "1.29"])
def test_old_kubectl_execs_over_spdy(cluster: Cluster, exec_pod: str, version: str) -> None:
    """kubectl up to 1.29 speaks SPDY/3.1 (v4.channel.k8s.io): output, stderr, stdin and exit codes."""
    proc = cluster.kubectl("exec", exec_pod, "-c", "side", "--", "sh", "-c", "cat /tmp/who; echo oops >&2; exit 4",
                           version=version, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()[0]) == (4, "side\n", "oops"), proc
    assert "command terminated with exit code 4" in proc.stderr
    proc = cluster.kubectl("exec", "-i", exec_pod, "--", "sh", "-c", "tr a-z A-Z", version=version,
                           input="through spdy\n")
    assert proc.stdout == "THROUGH SPDY\n"
    proc = cluster.kubectl("exec", exec_pod, "-c", "nope", "--", "true", version=version, check=False)
    assert proc.returncode != 0 and "container nope is not valid for pod exec-pod" in proc.stderr, proc.stderr


def test_plain_http_to_exec_gets_a_status(cluster: Cluster, exec_pod: str) -> None:
    with cluster.http() as c:
        r = c.post(f"/api/v1/namespaces/default/pods/{exec_pod}/exec?command=true")
    assert r.status_code == 400 and r.json()["kind"] == "Status" and "upgrade the connection" in r.json()["message"]


def test_v4_subprotocol_and_status_on_channel_3(cluster: Cluster, exec_pod: str) -> None:
    """A raw WebSocket client with v4: frames carry channel bytes; the end is a Status on channel 3."""
    import json

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = (cluster.url.replace("https://", "wss://") + f"/api/v1/namespaces/default/pods/{exec_pod}/exec"
           "?command=sh&command=-c&command=echo%20hi%3B%20exit%205&container=main&stdout=true&stderr=true")
    frames: list[bytes] = []
    with connect(url, subprotocols=["v4.channel.k8s.io"], ssl=cluster.ssl_context()) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "v4.channel.k8s.io"
        with contextlib.suppress(ConnectionClosed):  # the server closes after the status
            while True:
                frames.append(ws.recv(timeout=10))  # type: ignore[arg-type]
    assert frames[0] == b"\x01hi\n"
    status = json.loads(frames[-1][1:])
    assert frames[-1][0] == 3
    assert status == {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": status["message"],
                      "details": {"causes": [{"reason": "ExitCode", "message": "5"}]}}
