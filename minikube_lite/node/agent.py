"""The node agent: one node's kubelet in a process of its own, talking to the API server over HTTPS.

This is what a kubelet on another machine of a Kubernetes cluster is: it knows the API server's
URL and has its own credentials (a client certificate ``CN=system:node:<name>, O=system:nodes``
from the cluster CA, kubeadm's ``kubelet-client-current.pem``; auth/nodecerts.py), and does
everything through the API (client/http.py): registers its Node, renews its Lease, watches the
pods bound to it, writes their status. It runs its pods' containers on the machine's Docker
engine, labelled with the node (so agents sharing an engine never touch each other's), and serves
the kubelet's HTTPS endpoint (kubelet/server.py) the API server reaches for logs, exec,
attach, port-forward and metrics.

Run as ``python -m minikube_lite.node --state-dir DIR --name NAME`` (``minikube-lite node add``
and ``node start`` do). The node has an address of its own on the cluster's bridge (its
InternalIP, kubelet/nodeaddress.py), where its endpoint listens. SIGTERM (``node stop``) kills its
containers and keeps them, as a machine switched off leaves them, and takes the address away; the
next agent replaces them (a new sandbox, restart count + 1) or removes those of pods that are gone.
SIGKILL leaves them running, and the next agent of the node adopts them.

With ``--control-plane`` (``start --ha``'s first node) it is the first node as the daemon's own
kubelet is: the control-plane role, the daemon's kubelet folder, the bridge's gateway as its
address, its containers removed by SIGTERM (``minikube-lite stop``); and it also runs this
machine's kube-proxy, DNS and ingress controller (node/networking.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from pathlib import Path
from typing import Any, NoReturn

from minikube_lite.config import CLUSTER_LABEL, DNS_SERVICE_IP, METRICS_RESOLUTION_SECONDS, Settings

from . import node_dir

log = logging.getLogger("minikube_lite.node")

API_WAIT_SECONDS = 60.0


def api_context(state_dir: Path, name: str) -> ssl.SSLContext:
    from minikube_lite.auth import pki
    from minikube_lite.auth.nodecerts import node_client

    crt, key = node_client(state_dir, name)
    ctx = ssl.create_default_context(cafile=str(pki.paths(state_dir).ca_crt))
    ctx.load_cert_chain(str(crt), str(key))
    return ctx


async def run(state_dir: Path, name: str, server: str | None = None, control_plane: bool = False) -> None:
    from minikube_lite.auth import nodecerts
    from minikube_lite.client.http import HTTPClient
    from minikube_lite.kubelet.kubelet import Kubelet
    from minikube_lite.proxy.hostnet import ensure_network

    nodecerts.IN_CHILD_PROCESS = True  # no cryptography in this process (nodecerts.py says why)
    settings = Settings.load(state_dir)
    url = server or settings.server_url
    try:
        _, gateway = await asyncio.to_thread(ensure_network, settings.network_name, settings.cluster_id,
                                             CLUSTER_LABEL)
    except Exception as exc:  # noqa: BLE001 - no engine yet: the kubelet says so
        log.warning("cannot prepare the pods' network (%s)", exc)
        gateway = ""
    try:  # the client certificate; the serving one names the node's address: with the gateway here
        # (the first node), else once the node has its own address (kubelet.py)
        if control_plane:
            await asyncio.to_thread(nodecerts.ensure_node_certs, state_dir, name,
                                    tuple(dict.fromkeys(i for i in (gateway, "127.0.0.1") if i)))
        else:  # the serving one's child started ahead when there is none yet (nodecerts.prewarm)
            await asyncio.to_thread(nodecerts.prewarm, state_dir, name)
            await asyncio.to_thread(nodecerts.node_client, state_dir, name)
    except Exception as exc:  # noqa: BLE001 - the kubelet's endpoint tries again and says why
        log.warning("cannot make the node's certificates yet (%s)", exc)
    client = HTTPClient(url, ssl_context=api_context(state_dir, name) if url.startswith("https") else None,
                        field_manager="kubelet", user_agent=f"kubelet/{name}")
    kubelet = Kubelet(client, node_name=name, cluster_id=settings.cluster_id, network_name=settings.network_name,
                      dns_server=gateway or DNS_SERVICE_IP, root_dir=_root_dir(state_dir, name, control_plane),
                      image_pull=settings.image_pull, serving_state_dir=state_dir, control_plane=control_plane,
                      own_address=not control_plane,
                      metrics_resolution=float(os.environ.get("MINIKUBE_LITE_METRIC_RESOLUTION",
                                                              METRICS_RESOLUTION_SECONDS)))
    try:  # the engine, the network, the kubelet's endpoint: while the API server is still starting
        await kubelet.prepare()
        kubelet.dns_server = kubelet.runtime.host_ip or kubelet.dns_server  # the bridge's gateway, after any duplicate network went
    except Exception as exc:  # noqa: BLE001 - the kubelet's run tries again and says why
        log.warning("the kubelet could not prepare yet (%s)", exc)
    await _wait_for_api(client)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    task = asyncio.create_task(_supervise(kubelet), name="kubelet")
    trim = asyncio.create_task(_give_back_memory(), name="malloc-trim")
    machine = None
    if control_plane:  # this machine's kube-proxy, DNS and ingress (node/networking.py)
        from .networking import MachineComponents

        machine = MachineComponents(state_dir, settings, url, name, gateway or DNS_SERVICE_IP)
        machine.start(_supervise)
    await stopping.wait()
    log.info("node %s stopping: %s its containers", name, "removing" if control_plane else "stopping")
    task.cancel()
    trim.cancel()
    with contextlib.suppress(BaseException):
        await task
    if machine is not None:
        await machine.stop()
    try:
        await kubelet.shutdown(remove_containers=control_plane, stop_containers=not control_plane)
    finally:
        await client.close()
        await asyncio.to_thread(nodecerts.discard_warm)


async def _wait_for_api(client: Any, timeout: float = API_WAIT_SECONDS) -> None:
    """Until the API server answers (``start`` runs the agents side by side with the daemon): the
    kubelet then registers at once, instead of failing and trying again a second later."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await client.ready():
        if asyncio.get_running_loop().time() > deadline:
            log.warning("the API server at %s does not answer yet; the kubelet starts anyway", client.server)
            return
        await asyncio.sleep(0.05)


async def _give_back_memory() -> None:
    """The heap pages freed after the start (discovery, the first lists, the registration) and after
    each later burst (a node full of pods starting) go back to the OS: glibc keeps them otherwise,
    ~2-3 MB of the agent's RSS (minikube_lite/malloc.py). Looks every 5 s, so an idle agent wakes
    for it as seldom as for its Lease; the start is over once 5 s pass quietly."""
    from minikube_lite.malloc import trim_after_bursts

    await trim_after_bursts(period=5.0, burst_cpu=0.5, quiet_share=0.05, after_start=True)


def _root_dir(state_dir: Path, name: str, control_plane: bool) -> Path:
    """The kubelet's folder; the first node keeps the daemon's (it is the same node)."""
    return state_dir / "kubelet" if control_plane else node_dir(state_dir, name) / "kubelet"


async def _supervise(kubelet: object) -> None:
    while True:
        try:
            await kubelet.run()  # type: ignore[attr-defined]
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("kubelet crashed; restarting it in 1s")
            await asyncio.sleep(1)


def skip_unused_imports() -> None:
    """Optional imports of our libraries the agent has no use for, refused before they happen
    (a ``None`` in ``sys.modules`` is Python's way to block an import; each library catches the
    ImportError and carries on without):

    - httpx imports its command-line client (click, rich, pygments: ~4 MB) whenever click is installed;
    - httpcore imports trio (+ attrs, outcome, sortedcontainers) whenever it is installed, to pick
      its locks; the agent runs on asyncio only;
    - requests (under the Docker SDK) imports a character-set detector (charset_normalizer, ~3.5 MB)
      for ``Response.apparent_encoding``; without one it says UTF-8, which is what the Docker
      Engine API speaks, and warns once at import (silenced here).
    """
    import warnings

    for name in ("httpx._main", "trio", "charset_normalizer", "chardet"):
        sys.modules.setdefault(name, None)  # type: ignore[assignment]
    warnings.filterwarnings("ignore", message="Unable to find acceptable character detection dependency")


#: bytes asyncio's TLS transport reads at once (its ``SSLProtocol.max_size``, 256 KiB by default)
TLS_READ_BUFFER = 32 * 1024


def small_tls_buffers() -> None:
    """asyncio gives every TLS connection a zero-filled read buffer of ``SSLProtocol.max_size``
    (256 KiB, all of it resident). The agent holds one connection per watch (its pods; ConfigMaps,
    Secrets, PersistentVolumeClaims while its pods read some: HTTP/1.1, where client-go would
    multiplex them over one HTTP/2 connection), its pooled ones and the API server's to its
    endpoint: 3-7 x 256 KiB. A TLS record carries at most 16 KiB, so 32 KiB still reads two at once
    (issue 14: −1.3 MB at 64 KiB, −0.15 MB more at 32 KiB)."""
    import asyncio.sslproto

    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER


USAGE = """usage: minikube-lite-node --state-dir DIR --name NAME [--server URL] [--control-plane]

One node's kubelet (a node agent).

  --state-dir DIR    the cluster's state folder
  --name NAME        the node's name
  --server URL       the API server's URL [default: the cluster's]
  --control-plane    the first node (start --ha): the control-plane role, and this machine's
                     kube-proxy, DNS and ingress controller
  -h, --help         show this message and exit"""


def _usage_error(message: str) -> NoReturn:
    print(f"{USAGE.splitlines()[0]}\nminikube-lite-node: error: {message}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv: list[str]) -> tuple[Path, str, str | None, bool]:
    """(state dir, name, server, control plane) from the command line, on getopt: argparse (or click,
    the project's CLI) is 0.3-0.6 MB more in every agent for four options. Bad usage exits 2."""
    import getopt

    try:
        opts, extra = getopt.gnu_getopt(argv, "h", ["state-dir=", "name=", "server=", "control-plane", "help"])
        if extra:
            raise getopt.GetoptError(f"unexpected argument {extra[0]!r}")
    except getopt.GetoptError as e:
        _usage_error(str(e))
    values = dict(opts)
    if "-h" in values or "--help" in values:
        print(USAGE)
        sys.exit(0)
    missing = [o for o in ("--state-dir", "--name") if not values.get(o)]
    if missing:
        _usage_error(f"{' and '.join(missing)} required")
    return (Path(values["--state-dir"]), values["--name"], values.get("--server") or None,
            "--control-plane" in values)


def main(argv: list[str] | None = None) -> None:
    skip_unused_imports()
    state_dir, name, server, control_plane = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=os.environ.get("MINIKUBE_LITE_LOG", "INFO"), stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s {name} %(name)s: %(message)s")
    from minikube_lite.malloc import fix_mmap_threshold

    small_tls_buffers()
    fix_mmap_threshold()  # TLS connections' buffers stay mmap'ed, unmapped when they close (malloc.py)
    asyncio.run(run(state_dir.expanduser().resolve(), name, server, control_plane))


if __name__ == "__main__":
    main()
