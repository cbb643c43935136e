"""Extra nodes: a node agent per node (its own kubelet process) and where their state lives."""

from __future__ import annotations

from pathlib import Path

PRIMARY = "minikube-lite"


def node_names(count: int) -> list[str]:
    """minikube's names: ``minikube-lite``, ``minikube-lite-m02``, ``minikube-lite-m03`` ..."""
    return [PRIMARY] + [f"{PRIMARY}-m{i:02d}" for i in range(2, count + 1)]


def nodes_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "nodes"


def node_dir(state_dir: Path, name: str) -> Path:
    return nodes_dir(state_dir) / name


def extra_nodes(state_dir: Path) -> list[str]:
    """The extra nodes this cluster has (one folder each), in name order."""
    d = nodes_dir(state_dir)
    return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []
