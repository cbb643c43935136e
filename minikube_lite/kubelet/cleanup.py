"""Removing everything one cluster created in Docker: its containers, then its networks.

Docker refuses to remove a network while an endpoint is attached ("has active endpoints"), and a
container whose removal is already under way (409 from a kubelet still finishing) or one created
just after the listing keeps its endpoint for a moment. So the removal lists again and retries until
nothing of the cluster is left or the deadline passes, and it only ever touches containers and
networks carrying this cluster's label (or the cluster's network name with its label).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import docker.errors

from minikube_lite.config import CLUSTER_LABEL, NODE_LABEL

log = logging.getLogger(__name__)


@dataclass
class Removed:
    containers: int = 0
    networks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _cluster_networks(api: Any, cluster_id: str, network_name: str | None) -> list[dict[str, Any]]:
    label = f"{CLUSTER_LABEL}={cluster_id}"
    found = {n["Id"]: n for n in api.networks(filters={"label": label})}
    if network_name:
        for n in api.networks(names=[network_name]):
            # a network of that name made by someone else is not ours to remove
            if n.get("Name") == network_name and (n.get("Labels") or {}).get(CLUSTER_LABEL) in (None, cluster_id):
                found.setdefault(n["Id"], n)
    return list(found.values())


def remove_cluster_objects(client: docker.DockerClient, cluster_id: str, network_name: str | None = None,
                           *, timeout: float = 15.0) -> Removed:
    api = client.api
    label = f"{CLUSTER_LABEL}={cluster_id}"
    done = Removed()
    deadline = time.monotonic() + timeout
    while True:
        problems: list[str] = []
        # the sparse list: no inspect per container, so one vanishing meanwhile costs nothing
        for c in api.containers(all=True, filters={"label": label}):
            try:
                api.remove_container(c["Id"], force=True)
                done.containers += 1
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:
                # 409: a removal is already in progress; the next round sees it gone
                problems.append(f"container {c['Id'][:12]}: {e.explanation or e}")
        for n in _cluster_networks(api, cluster_id, network_name):
            try:
                api.remove_network(n["Id"])
                done.networks.append(n.get("Name", n["Id"][:12]))
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:
                problems.append(f"network {n.get('Name')}: {e.explanation or e}")
        if not problems:
            return done
        if time.monotonic() >= deadline:
            done.problems = problems
            return done
        time.sleep(0.2)


def remove_node_containers(client: docker.DockerClient, cluster_id: str, node: str) -> int:
    """Remove the containers of one node of the cluster (``node delete``: a stopped node's are
    kept, exited, and a killed agent's still run); how many. Only containers with both labels."""
    api, removed = client.api, 0
    for c in api.containers(all=True, filters={"label": [f"{CLUSTER_LABEL}={cluster_id}", f"{NODE_LABEL}={node}"]}):
        try:
            api.remove_container(c["Id"], force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:  # 409: already being removed
            log.warning("could not remove container %s: %s", c["Id"][:12], e)
    return removed
