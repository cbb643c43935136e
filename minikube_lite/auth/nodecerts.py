"""The certificates between the API server and the kubelets, as kubeadm lays them out.

kube-apiserver reaches each kubelet's HTTPS port (10250) for logs, exec, attach, port-forward and
stats, and both ends prove who they are:

- the kubelet serves a certificate signed by the cluster CA naming the node's addresses (kubeadm's
  ``kubelet.crt``; with serverTLSBootstrap a CSR signed by ``kubernetes.io/kubelet-serving``), and
  the API server verifies it against that CA (``--kubelet-certificate-authority``);
- the API server presents ``apiserver-kubelet-client.crt`` (CN ``kube-apiserver-kubelet-client``,
  O ``system:masters``; ``--kubelet-client-certificate``), which the kubelet accepts from the CA
  (``--client-ca-file``) and authorises.

A node's own client certificate (CN ``system:node:<name>``, O ``system:nodes``, kubeadm's
``kubelet-client-current.pem``) is how a node agent in its own process calls the API.
All of them live in ``<state dir>/certs`` beside the CA (auth/pki.py).
"""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path
from typing import Any, NamedTuple

from . import pki

KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUP = "system:masters"

#: make a missing certificate in a short-lived child process (``python -m minikube_lite.auth.nodecerts``)
#: instead of in this one. The node agent sets it: ``cryptography`` imported for a few milliseconds of
#: signing at a node's first start would stay in its memory for good (~6 MB; issue 14).
IN_CHILD_PROCESS = False


#: (state dir, node) -> a child started ahead (:func:`prewarm`), cryptography loaded, the client
#: certificate made, waiting on its stdin for the addresses the serving certificate is to name
_warm: dict[tuple[str, str], Any] = {}
_exiting: list[Any] = []  # children that signed and are exiting (reaped by discard_warm)


class NodeFiles(NamedTuple):
    """A node's certificate files in ``<state dir>/certs``."""

    client_crt: Path  # kubeadm's kubelet-client-current.pem: the node's identity to the API
    client_key: Path
    serving_crt: Path  # kubeadm's kubelet.crt: its HTTPS endpoint's
    serving_key: Path
    serving_note: Path  # the serving certificate's addresses and notAfter (pki.write_serving_cert)

    def has_client(self) -> bool:
        return self.client_crt.exists() and self.client_key.exists()

    def has_serving(self) -> bool:
        return self.serving_crt.exists() and self.serving_key.exists()


def node_files(state_dir: Path, node: str) -> NodeFiles:
    d = pki.paths(state_dir).dir
    return NodeFiles(d / f"kubelet-client-{node}.crt", d / f"kubelet-client-{node}.key",
                     d / f"kubelet-{node}.crt", d / f"kubelet-{node}.key", d / f"kubelet-{node}.json")


def _child_command(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "minikube_lite.auth.nodecerts", *args]


def _failed(err: str | None) -> RuntimeError:
    return RuntimeError(f"making the node's certificate failed: {(err or '').strip()[-2000:]}")


def _in_child(what: str, state_dir: Path, node: str, *ips: str) -> None:
    """Make ``what`` (``client``, ``serving`` or ``both``) in a child process: the one started
    ahead for this node when it is the serving certificate, else a new one."""
    import subprocess

    warm = _warm.pop((str(state_dir), node), None) if what == "serving" else None
    if warm is not None:
        _sign_in_warm(warm, ips)
        return
    done = subprocess.run(_child_command(what, str(state_dir), node, *ips), capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode:
        raise _failed(done.stderr)


def _sign_in_warm(warm: Any, ips: tuple[str, ...]) -> None:
    """Hand the addresses to a child :func:`prewarm` started: loaded already, it signs in milliseconds."""
    import subprocess

    assert warm.stdin is not None and warm.stdout is not None
    try:
        warm.stdin.write(" ".join(ips) + "\n")
        warm.stdin.close()
        if warm.stdout.readline().strip() == "signed":  # its interpreter's exit is not waited for
            _exiting.append(warm)
            return
        _, err = warm.communicate(timeout=120)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        warm.kill()
        err = str(e)
    raise _failed(err)


def prewarm(state_dir: Path, node: str) -> None:
    """A node's first start (no serving certificate yet), in a node agent: start the child that will
    sign the serving certificate now, while the agent waits for the API server and its pod range,
    so that once the node has its address the interpreter is up and ``cryptography`` loaded (issue
    14: a cold child was ~0.5 s of ``start --nodes 3``). The child also makes the client certificate
    when it is missing; this returns once the client certificate is there."""
    import subprocess

    key = (str(state_dir), node)
    if not IN_CHILD_PROCESS or key in _warm or node_files(state_dir, node).has_serving():
        return
    proc = subprocess.Popen(_child_command("warm", str(state_dir), node), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "client":  # it failed: say why; the cold way remains
        proc.kill()
        _, err = proc.communicate()
        raise _failed(err)
    _warm[key] = proc


def discard_warm() -> None:
    """The children :func:`prewarm` started and nobody asked: told there is nothing to sign (EOF)."""
    while _exiting:
        with contextlib.suppress(Exception):
            _exiting.pop().wait(timeout=5)
    while _warm:
        _, proc = _warm.popitem()
        try:
            proc.communicate("", timeout=5)
        except Exception:  # noqa: BLE001 - it goes either way
            proc.kill()


def _has(*files: Path) -> bool:
    return all(f.exists() for f in files)


def apiserver_kubelet_client(state_dir: Path) -> tuple[Path, Path]:
    """The API server's client certificate for kubelets (made once)."""
    p = pki.ensure_client(state_dir)
    crt, key = p.dir / "apiserver-kubelet-client.crt", p.dir / "apiserver-kubelet-client.key"
    if not _has(crt, key):
        pki.write_client_cert(p, KUBELET_CLIENT_USER, (KUBELET_CLIENT_GROUP,), crt, key)
    return crt, key


def node_client(state_dir: Path, node: str) -> tuple[Path, Path]:
    """The node's client certificate for the API (``system:node:<node>`` in ``system:nodes``)."""
    f = node_files(state_dir, node)
    if not f.has_client():
        if IN_CHILD_PROCESS:
            _in_child("client", state_dir, node)
        else:
            pki.write_client_cert(pki.ensure_client(state_dir), f"system:node:{node}", ("system:nodes",),
                                  f.client_crt, f.client_key)
    return f.client_crt, f.client_key


def kubelet_serving(state_dir: Path, node: str, ips: tuple[str, ...]) -> tuple[Path, Path]:
    """The kubelet's serving certificate for ``node`` at ``ips`` (made again when an address is new or
    it nears expiry). A note beside it (``kubelet-<node>.json``: its addresses and ``notAfter``, as
    the API server's ``apiserver.json``) answers that without parsing X.509, so a node agent whose
    certificate is good never imports ``cryptography`` (issue 14: the agent's memory)."""
    import json
    import time

    f = node_files(state_dir, node)
    if f.has_serving():
        try:
            note = json.loads(f.serving_note.read_text())
            if set(ips) <= set(note.get("ips", [])) and float(note.get("notAfter", 0)) - time.time() > pki.RENEW_BEFORE:
                return f.serving_crt, f.serving_key
        except (OSError, ValueError, TypeError):
            pass
    if IN_CHILD_PROCESS:
        _in_child("serving", state_dir, node, *ips)
    else:
        pki.write_serving_cert(pki.ensure_client(state_dir), (node, "system:nodes"), tuple(dict.fromkeys(ips)),
                               (node,), (f.serving_crt, f.serving_key, f.serving_note))
    return f.serving_crt, f.serving_key


def kubelet_server_context(state_dir: Path, node: str, ips: tuple[str, ...]) -> ssl.SSLContext:
    """The kubelet's TLS: its serving certificate; client certificates from the cluster CA verified
    (optional at the handshake, as the kubelet's: a request without one is answered 401)."""
    crt, key = kubelet_serving(state_dir, node, ips)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(crt), str(key))
    ctx.load_verify_locations(cafile=str(pki.paths(state_dir).ca_crt))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def kubelet_client_context(state_dir: Path) -> ssl.SSLContext:
    """The API server's TLS to kubelets: verify them against the CA, present its kubelet-client cert."""
    crt, key = apiserver_kubelet_client(state_dir)
    ctx = ssl.create_default_context(cafile=str(pki.paths(state_dir).ca_crt))
    ctx.load_cert_chain(str(crt), str(key))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def ensure_node_certs(state_dir: Path, node: str, ips: tuple[str, ...]) -> None:
    """A node's client and serving certificates; with ``IN_CHILD_PROCESS`` both are made by one child
    when the client one is missing (a node agent's first start: one interpreter started, not two)."""
    if IN_CHILD_PROCESS and not node_files(state_dir, node).has_client():
        _in_child("both", state_dir, node, *ips)
    node_client(state_dir, node)
    kubelet_serving(state_dir, node, ips)


if __name__ == "__main__":  # the child of IN_CHILD_PROCESS: ``client|serving|both|warm STATE NODE [IP...]``
    import sys

    _what, _state, _node, *_ips = sys.argv[1:]
    if _what == "warm":  # prewarm: the client certificate now, the serving one for the addresses read later
        node_client(Path(_state), _node)
        pki.load_ca(pki.ensure_client(Path(_state)))  # cryptography's x509 and keys loaded before the addresses come
        print("client", flush=True)
        _ips = sys.stdin.readline().split()
        if not _ips:
            sys.exit(0)  # nothing to sign: the agent went or did not need it
        kubelet_serving(Path(_state), _node, tuple(_ips))
        print("signed", flush=True)
        sys.exit(0)
    if _what in ("client", "both"):
        node_client(Path(_state), _node)
    if _what in ("serving", "both"):
        kubelet_serving(Path(_state), _node, tuple(_ips))
