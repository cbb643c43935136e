"""The netfilter rules a machine needs for its pods' traffic over the overlay (node/overlay.py).

Two things stand between a pod and a pod of another machine once the routes exist, both of them
NAT this machine would otherwise do (flannel adds the same exceptions, ``-s cluster -d cluster
-j RETURN`` in POSTROUTING):

- Docker masquerades everything leaving a bridge's subnet for another interface, so a pod's packet
  to another machine's pod would reach it with this machine's ``docker_gwbridge`` address as source,
  which the other machine cannot answer: packets to the pod CIDR leaving through
  ``docker_gwbridge`` are exempt (``ACCEPT`` in the nat table ends its NAT rules);
- kube-proxy masquerades Service traffic (proxy/iptables.py marks it): when its endpoint is on
  another machine the source must be an address that machine routes back here, the node's own
  pod-range address (SNAT instead of MASQUERADE), so the reply returns through this conntrack.

Docker's FORWARD isolation drops traffic between two of its bridges; the pod CIDR to and from
``docker_gwbridge`` is accepted. Each rule lives in a chain of this cluster
(``MKLO-<id>-NAT``, ``MKLO-<id>-FORWARD``) with one jump kept first in the built-in chain (it
must come before kube-proxy's masquerade and Docker's). ``remove`` deletes exactly those.
"""

from __future__ import annotations

import logging
import shlex
import shutil

from ..proxy.hostnet import run_sync as _run
from ..proxy.iptables import MASQ_MARK

log = logging.getLogger(__name__)


class OverlayNat:
    def __init__(self, cluster_id: str, gwbridge: str = "docker_gwbridge") -> None:
        # not kube-proxy's MKL-<id>- prefix: its sync deletes every chain of that prefix it did not write
        prefix = f"MKLO-{cluster_id[:10]}"
        self.nat_chain, self.fwd_chain = f"{prefix}-NAT", f"{prefix}-FORWARD"
        self.comment = f"minikube-lite {cluster_id} overlay"
        self.gwbridge = gwbridge

    def jumps(self) -> list[tuple[str, str, str]]:
        return [("nat", "POSTROUTING", self.nat_chain), ("filter", "FORWARD", self.fwd_chain)]

    def sync(self, pod_cidr: str, node_address: str) -> None:
        """The chains for ``pod_cidr`` (the cluster's) and SNAT source ``node_address``; jumps first."""
        if shutil.which("iptables-restore") is None:
            log.warning("no iptables: pods' traffic to other machines is masqueraded by Docker")
            return
        gw = self.gwbridge
        text = "\n".join([
            "*nat", f":{self.nat_chain} - [0:0]",
            f"-A {self.nat_chain} -o {gw} -d {pod_cidr} -m mark --mark {MASQ_MARK} -j SNAT --to-source {node_address}",
            f"-A {self.nat_chain} -o {gw} -d {pod_cidr} -j ACCEPT", "COMMIT",
            "*filter", f":{self.fwd_chain} - [0:0]",
            f"-A {self.fwd_chain} -o {gw} -d {pod_cidr} -j ACCEPT",
            f"-A {self.fwd_chain} -i {gw} -d {pod_cidr} -j ACCEPT", "COMMIT", ""])
        code, out = _run("iptables-restore", "-w", "--noflush", stdin=text)
        if code != 0:
            raise OSError(f"iptables-restore (overlay): {out}")
        for table, builtin, chain in self.jumps():
            code, out = _run("iptables", "-w", "-t", table, "-S", builtin)
            lines = [ln for ln in out.splitlines() if ln.startswith(f"-A {builtin} ")] if code == 0 else []
            ours = [ln for ln in lines if f"-j {chain}" in ln]
            if lines and ours and lines[0] == ours[0] and len(ours) == 1:
                continue  # already first
            for ln in ours:
                _run("iptables", "-w", "-t", table, "-D", builtin, *shlex.split(ln)[2:])
            code, out = _run("iptables", "-w", "-t", table, "-I", builtin, "1", "-m", "comment",
                             "--comment", self.comment, "-j", chain)
            if code != 0:
                raise OSError(f"iptables -I {builtin}: {out}")

    def remove(self) -> None:
        if shutil.which("iptables") is None:
            return
        for table, builtin, chain in self.jumps():
            code, out = _run("iptables", "-w", "-t", table, "-S", builtin)
            for ln in out.splitlines() if code == 0 else []:
                if ln.startswith(f"-A {builtin} ") and f"-j {chain}" in ln:
                    _run("iptables", "-w", "-t", table, "-D", builtin, *shlex.split(ln)[2:])
            _run("iptables", "-w", "-t", table, "-F", chain)
            _run("iptables", "-w", "-t", table, "-X", chain)
