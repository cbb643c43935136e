"""``minikube-lite node token``: a bootstrap token and the join command for another machine.

As ``kubeadm token create --print-join-command``: a Secret ``kube-system/bootstrap-token-<id>``
(auth/bootstrap.py) is created through the API with the admin's credentials, and the command to
run on the other machine is printed with the API server's address, the token and the pin of the
cluster CA (``--discovery-token-ca-cert-hash sha256:...``), which the agent checks before it
trusts anything the server says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import click

from minikube_lite.auth import bootstrap, pki
from minikube_lite.config import Settings

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> float:
    """Go's ``time.Duration`` as kubeadm's ``--ttl`` takes it (``24h``, ``1h30m``, ``0`` never expires)."""
    text = text.strip()
    if text == "0":
        return 0.0
    m = _DURATION.match(text)
    if not text or m is None or not any(m.groups()):
        raise click.BadParameter(f'invalid duration "{text}" (e.g. 24h, 1h30m, 90s; 0: never expires)')
    h, mi, s = (int(g or 0) for g in m.groups())
    return float(h * 3600 + mi * 60 + s)


def advertised_server(settings: Settings) -> str:
    """The API server's URL as another machine reaches it (the node's address when it listens on all)."""
    host = settings.host
    if host in ("0.0.0.0", "", "::"):
        from minikube_lite.cli import main as m

        node = m.get_json(settings, f"/api/v1/nodes/{settings.node_name}") or {}
        host = next((a.get("address") for a in (node.get("status") or {}).get("addresses") or []
                     if a.get("type") == "InternalIP"), "") or "127.0.0.1"
    return f"https://{host}:{settings.port}"


def create_token(settings: Settings, ttl: float, description: str = "") -> str:
    """A new bootstrap token, stored through the API (the admin's connection)."""
    from minikube_lite.cli import main as m

    token = bootstrap.generate_token()
    body = json.dumps(bootstrap.new_token_secret(token, ttl=ttl, description=description)).encode()
    conn = m._connection(settings, 5.0)
    try:
        conn.request("POST", f"/api/v1/namespaces/{bootstrap.NAMESPACE}/secrets", body=body,
                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        resp = conn.getresponse()
        answer = resp.read()
    finally:
        conn.close()
    if resp.status != 201:
        try:
            message = json.loads(answer).get("message", "")
        except ValueError:
            message = answer.decode(errors="replace")
        m._fail("❌", f"Could not create the bootstrap token: {message}")
    return token


def join_command(settings: Settings, token: str) -> str:
    pin = bootstrap.ca_pin(pki.paths(settings.state_dir).ca_crt.read_bytes())
    return (f"minikube-lite agent --server {advertised_server(settings)} --token {token} "
            f"--discovery-token-ca-cert-hash {pin}")


def token_command(state_dir_option: Callable[[Any], Any]) -> click.Command:
    """``node token`` (built by the CLI, which owns the ``--state-dir`` option)."""

    @click.command("token")
    @state_dir_option
    @click.option("--ttl", default="24h", show_default=True,
                  help="How long the token is valid (0: never expires), as kubeadm token create --ttl.")
    @click.option("--description", default="", help="A note kept with the token.")
    def token(ttl: str, description: str, state_dir: str) -> None:
        """Create a bootstrap token and print the command that joins another machine as a node."""
        from minikube_lite.cli import main as m

        seconds = parse_duration(ttl)
        settings = m._settings_for(state_dir)
        if m.running_pid(settings) is None:
            m._fail("🤷", f'"{m.NAME}" is not running (state: {settings.state_dir}). Start it: minikube-lite start')
        if not settings.secure:
            m._fail("❌", "This cluster runs without TLS (--insecure-no-auth): nodes cannot join it with a token")
        click.echo(join_command(settings, create_token(settings, seconds, description)))

    return token


def _api(settings: Settings, method: str, path: str) -> tuple[int, Any]:
    from minikube_lite.cli import main as m

    conn = m._connection(settings, 5.0)
    try:
        conn.request(method, path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(body) if body else None
    except ValueError:
        return resp.status, None


def _csr_common_name(csr: dict[str, Any]) -> str:
    import base64

    from minikube_lite.api.certificates import parse_request

    try:
        req = parse_request(base64.b64decode((csr.get("spec") or {}).get("request") or ""))
    except ValueError:
        return ""
    from cryptography.x509.oid import NameOID

    names = req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def revoke_node_credentials(settings: Settings, node: str) -> list[str]:
    """``node delete``: the bootstrap tokens the node joined with are deleted (so they can join
    nothing again) and so are its CSRs; what was removed, for the user."""
    status, listing = _api(settings, "GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests")
    if status != 200 or not isinstance(listing, dict):
        return []
    removed: list[str] = []
    for csr in listing.get("items") or []:
        if _csr_common_name(csr) != f"system:node:{node}":
            continue
        user = (csr.get("spec") or {}).get("username") or ""
        if user.startswith(bootstrap.USER_PREFIX):
            secret = bootstrap.SECRET_PREFIX + user[len(bootstrap.USER_PREFIX):]
            if _api(settings, "DELETE", f"/api/v1/namespaces/{bootstrap.NAMESPACE}/secrets/{secret}")[0] == 200:
                removed.append(f"secret/{secret}")
        name = csr["metadata"]["name"]
        if _api(settings, "DELETE", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")[0] == 200:
            removed.append(f"certificatesigningrequest/{name}")
    return removed
