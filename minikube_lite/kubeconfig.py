"""The ``minikube-lite`` context in the user's kubeconfig, as ``minikube start`` writes its own.

``start`` makes the real ``kubectl`` talk to this cluster by writing one cluster, one user and one
context, all named ``minikube-lite``, and making that context current. The file is the first
entry of ``$KUBECONFIG`` when it is set (kubectl's own rule for where to write), else
``~/.kube/config``. What is already there is merged, never clobbered: only entries with these
names are replaced, every other cluster, user and context stays as it was. The file is written
atomically (temporary file + rename) with mode 0600, as kubectl writes it.

The cluster entry holds the cluster CA and the user entry the admin client certificate
(``minikube-user`` in ``system:masters``), embedded as ``*-data`` (kind's way: the file is
self-contained, and kubectl keeps it 0600).
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

from minikube_lite.config import Settings

NAME = "minikube-lite"

class KubeconfigError(Exception):
    """The kubeconfig file exists but cannot be read as a kubeconfig (we then leave it alone)."""


def kubeconfig_path() -> Path:
    """Where kubectl would write: the first non-empty entry of ``$KUBECONFIG``, else ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG", "")
    for entry in env.split(os.pathsep):
        if entry.strip():
            return Path(entry.strip()).expanduser()
    return Path.home() / ".kube" / "config"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _entries(settings: Settings) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    cluster: dict[str, Any] = {"name": NAME, "cluster": {"server": settings.server_url}}
    user: dict[str, Any] = {"name": NAME, "user": {}}
    certs = settings.certs_dir
    if settings.secure and (certs / "ca.crt").exists():
        cluster["cluster"]["certificate-authority-data"] = _b64(certs / "ca.crt")
        user["user"] = {"client-certificate-data": _b64(certs / "client.crt"),
                        "client-key-data": _b64(certs / "client.key")}
    context = {"name": NAME, "context": {"cluster": NAME, "user": NAME, "namespace": "default"}}
    return cluster, user, context


def render(settings: Settings) -> dict[str, Any]:
    """A kubeconfig holding only this cluster (for ``minikube-lite kubectl`` and scripts)."""
    cluster, user, context = _entries(settings)
    return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [cluster],
            "users": [user], "contexts": [context], "current-context": NAME}


def load(path: Path | None = None) -> dict[str, Any]:
    """The kubeconfig at ``path`` (default: :func:`kubeconfig_path`) as a dict; empty if missing."""
    import yaml

    path = path or kubeconfig_path()
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"{path} is not valid YAML, leaving it untouched: {exc}") from exc
    if not isinstance(data, dict):
        raise KubeconfigError(f"{path} is not a kubeconfig (top level is not a mapping), leaving it untouched")
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    mode = (path.stat().st_mode & 0o777) if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(data, f, default_flow_style=False, sort_keys=False)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _upsert(items: Any, entry: dict[str, Any]) -> list[Any]:
    items = [i for i in (items or []) if not (isinstance(i, dict) and i.get("name") == entry["name"])]
    items.append(entry)
    return items


def write_context(settings: Settings, path: Path | None = None) -> Path:
    """Add or replace the ``minikube-lite`` cluster/user/context and make it current. Returns the file."""
    path = path or kubeconfig_path()
    data = load(path)
    cluster, user, context = _entries(settings)
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    if data.get("preferences") is None:
        data["preferences"] = {}
    data["clusters"] = _upsert(data.get("clusters"), cluster)
    data["users"] = _upsert(data.get("users"), user)
    data["contexts"] = _upsert(data.get("contexts"), context)
    data["current-context"] = NAME
    _save(path, data)
    return path


def _server_of(data: dict[str, Any], context_name: str | None) -> str | None:
    ctx = next((c for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name") == context_name),
               None)
    if not ctx:
        return None
    cluster_name = (ctx.get("context") or {}).get("cluster")
    cluster = next((c for c in data.get("clusters") or [] if isinstance(c, dict) and c.get("name") == cluster_name),
                   None)
    return ((cluster or {}).get("cluster") or {}).get("server")


def current_server(path: Path | None = None) -> str | None:
    """The server URL of the current context (None when there is none or the file is unreadable)."""
    try:
        data = load(path)
    except KubeconfigError:
        return None
    return _server_of(data, data.get("current-context"))


def remove_context(path: Path | None = None, *, only_server: str | None = None) -> bool:
    """Remove the ``minikube-lite`` entries; unset current-context if it was ours.

    With ``only_server``, nothing is removed unless our context points at that server (another
    state folder's cluster may own the context now). Returns whether anything was removed.
    """
    path = path or kubeconfig_path()
    try:
        data = load(path)
    except KubeconfigError:
        return False
    if not data:
        return False
    if only_server is not None and _server_of(data, NAME) not in (only_server, None):
        return False
    changed = False
    for key in ("clusters", "users", "contexts"):
        items = data.get(key) or []
        kept = [i for i in items if not (isinstance(i, dict) and i.get("name") == NAME)]
        if len(kept) != len(items):
            data[key] = kept
            changed = True
    if data.get("current-context") == NAME:
        data["current-context"] = ""
        changed = True
    if changed:
        _save(path, data)
    return changed
