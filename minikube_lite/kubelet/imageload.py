"""The kubelet endpoint's image upload: what ``minikube-lite image load`` sends a node's engine.

``minikube image load`` and ``kind load docker-image`` copy an image of the user's engine into
each node's container runtime (kind: ``docker save`` piped into ``ctr images import`` inside the
node). A node of the master's machine shares its engine, so it already has the image; a node on
another machine has its own engine, which only its agent reaches. So its kubelet endpoint takes
the ``docker save`` archive (``POST /minikube-lite/images/load``, a path of our own beside
``/minikube-lite/resource-metrics``; the endpoint's gate admits only the API server's client
certificate and ``system:masters``), spools it to a file of its own folder and hands it to its
engine's ``docker load``. The answer lists the names the engine loaded.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from minikube_lite.api.errors import BadRequest

PATH = "/minikube-lite/images/load"


def _load(kubelet: Any, path: str) -> list[str]:
    import docker.errors

    with open(path, "rb") as f:
        try:
            events = list(kubelet.runtime.docker.api.load_image(f))
        except docker.errors.APIError as exc:
            raise BadRequest(f"the node's engine refused the image archive: {exc.explanation or exc}") from exc
    loaded = []
    for event in events:
        if event.get("error"):
            raise BadRequest(f"the node's engine refused the image archive: {event['error']}")
        stream = str(event.get("stream") or "")
        for prefix in ("Loaded image: ", "Loaded image ID: "):
            if stream.startswith(prefix):
                loaded.append(stream[len(prefix):].strip())
    return loaded


async def load(kubelet: Any, body: AsyncIterator[bytes]) -> dict[str, Any]:
    """Spool the request's body and ``docker load`` it (kubelet/server.py serves it on ``PATH``)."""
    kubelet.root_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=kubelet.root_dir, prefix="image-load-", suffix=".tar") as spool:
        size = 0
        async for chunk in body:
            size += len(chunk)
            await asyncio.to_thread(spool.write, chunk)
        await asyncio.to_thread(spool.flush)
        if not size:
            raise BadRequest("no image archive in the request body (docker save output expected)")
        loaded = await asyncio.to_thread(_load, kubelet, spool.name)
    return {"loaded": loaded, "bytes": size}
