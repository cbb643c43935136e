"""``minikube-lite image load IMAGE... [--node N]``: copy images of this machine's engine to the nodes.

As ``minikube image load`` (and ``kind load docker-image``): the image the user built on their own
engine becomes usable by pods on every node (or the one named) without a registry, so
``imagePullPolicy: IfNotPresent``/``Never`` finds it. Nodes of this machine (the control plane
and ``node add``'s agents) run on this very engine and already have it; a node joined from
another machine (``minikube-lite agent``) has an engine of its own, so the ``docker save`` stream
is sent to its kubelet endpoint (kubelet/imageload.py) over TLS: the node's serving certificate
verified against the cluster CA, the admin's client certificate presented.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from minikube_lite.node import extra_nodes


def _main() -> Any:
    from minikube_lite.cli import main

    return main


@click.group()
def image() -> None:
    """Manage the images of the cluster's nodes."""


def _endpoint(node: dict[str, Any]) -> tuple[str, int]:
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    port = int((((status.get("daemonEndpoints") or {}).get("kubeletEndpoint")) or {}).get("Port") or 0)
    return str(addresses.get("InternalIP") or addresses.get("Hostname") or ""), port


def _send(settings: Any, node: dict[str, Any], stream: Iterator[bytes]) -> list[str]:
    import httpx

    from minikube_lite.auth.pki import client_context
    from minikube_lite.kubelet.imageload import PATH

    host, port = _endpoint(node)
    name = node["metadata"]["name"]
    if not host or not port:
        raise click.ClickException(f'node "{name}" reports no kubelet endpoint (is its agent running?)')
    try:
        with httpx.Client(verify=client_context(settings.state_dir), timeout=httpx.Timeout(300, connect=5)) as c:
            r = c.post(f"https://{host}:{port}{PATH}", content=stream,
                       headers={"Content-Type": "application/x-tar"})
    except httpx.HTTPError as exc:
        raise click.ClickException(f'cannot reach the kubelet of node "{name}" at {host}:{port}: {exc}') from exc
    if r.status_code != 200:
        try:
            message = r.json().get("message", r.text)
        except ValueError:
            message = r.text
        raise click.ClickException(f'node "{name}" did not load the image: {message}')
    return list(r.json().get("loaded") or [])


@image.command("load")
@click.argument("images", nargs=-1, required=True)
@click.option("--node", "node_name", default=None, help="Load into this node only [default: every node].")
@_main().state_dir_option
def load(images: tuple[str, ...], node_name: str | None, state_dir: str) -> None:
    """Load images of this machine's Docker engine into the cluster's nodes."""
    import docker
    import docker.errors

    m = _main()
    settings = m._settings_for(state_dir)
    if m.running_pid(settings) is None:
        m._fail("🤷", f'"{m.NAME}" is not running (state: {settings.state_dir}). Start it: minikube-lite start')
    nodes = (m.get_json(settings, "/api/v1/nodes") or {}).get("items") or []
    if node_name is not None:
        nodes = [n for n in nodes if n["metadata"]["name"] == node_name]
        if not nodes:
            m._fail("🤷", f'Node "{node_name}" does not exist')
    here = {settings.node_name, *extra_nodes(settings.state_dir)}
    client = docker.from_env(timeout=300)
    try:
        for ref in images:
            try:
                client.images.get(ref)
            except docker.errors.ImageNotFound:
                m._fail("❌", f'Image "{ref}" is not on this machine\'s Docker engine (docker pull or docker build it first)')
            for node in nodes:
                name = node["metadata"]["name"]
                if name in here:
                    m._say("✅", f'"{ref}" is on node "{name}" (it runs on this machine\'s engine)')
                    continue
                try:
                    loaded = _send(settings, node, client.api.get_image(ref))
                except click.ClickException as exc:
                    m._fail("❌", exc.message)
                m._say("✅", f'Loaded "{ref}" into node "{name}" ({", ".join(loaded) or "no new names"})')
    finally:
        client.close()
