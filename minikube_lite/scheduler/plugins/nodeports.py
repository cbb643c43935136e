"""NodePorts: a pod asking for a ``hostPort`` fits only a node where no bound pod holds the same
port and protocol on a conflicting host IP (``0.0.0.0`` conflicts with every address)."""

from __future__ import annotations

from typing import Any

from ..framework import CycleState, NodeInfo, Plugin, Status

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def host_ports(pod: dict[str, Any]) -> list[tuple[str, str, int]]:
    out = []
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"])))
    return out


def _conflict(a: tuple[str, str, int], b: tuple[str, str, int]) -> bool:
    if a[1:] != b[1:]:
        return False
    return a[0] == b[0] or "0.0.0.0" in (a[0], b[0])


class NodePorts(Plugin):
    name = "NodePorts"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status | None:
        wanted = host_ports(pod)
        if not wanted:
            return None
        used = [hp for p in node.pods for hp in host_ports(p)]
        if any(_conflict(w, u) for w in wanted for u in used):
            return Status.unschedulable(ERR_REASON)
        return None
