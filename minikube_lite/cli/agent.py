"""``minikube-lite agent --server URL --token T``: join this machine to a cluster as a node (k3s agent).

The options are ``kubeadm join``'s (``--token``, ``--discovery-token-ca-cert-hash``) and the
kubelet's (``--node-ip``); ``minikube-lite node token`` on the master prints the whole command.
The work is node/remote.py's.
"""

from __future__ import annotations

import click


@click.command("agent")
@click.option("--server", required=True, metavar="https://MASTER:8443", help="The API server's URL.")
@click.option("--token", default=None, help="A bootstrap token (minikube-lite node token); not needed once joined.")
@click.option("--discovery-token-ca-cert-hash", "pin", default=None, metavar="sha256:HEX",
              help="The pin of the cluster CA's public key; the server is not trusted unless its CA matches.")
@click.option("--name", default=None, help="The node's name [default: this machine's host name].")
@click.option("--node-ip", default=None,
              help="The address the API server reaches this node at [default: the one this machine reaches the server from].")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="The agent's folder (credentials, kubelet files) [default: ~/.minikube-lite-agent/NAME].")
def agent(server: str, token: str | None, pin: str | None, name: str | None, node_ip: str | None,
          data_dir: str | None) -> None:
    """Join this machine to a cluster as a node and run its pods on this machine's Docker engine."""
    from minikube_lite.node.remote import main

    if not server.startswith("https://"):
        raise click.BadParameter("the server must be an https:// URL (a cluster started without TLS cannot be joined)",
                                 param_hint="--server")
    main(server, token, pin, name, node_ip, data_dir)
