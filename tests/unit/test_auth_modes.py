"""kube-apiserver's --authorization-mode=AlwaysAllow and --anonymous-auth, and the daemon's event loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from minikube_lite.auth import pki
from minikube_lite.auth.authn import Authenticator
from minikube_lite.auth.middleware import AuthMiddleware
from minikube_lite.auth.rbac import AlwaysAllowAuthorizer, DefaultPolicy, RBACAuthorizer, UserInfo
from minikube_lite.auth.requestinfo import Attributes

NOBODY = UserInfo("jane", "", ("system:authenticated",))


def _call(mw: AuthMiddleware, method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[
        int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": headers or [],
             "client": ("192.0.2.1", 4242)}  # no certificate recorded for this peer
    asyncio.run(mw(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], (json.loads(body) if body.startswith(b"{") else {})


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_always_allow_allows_everyone_and_lists_every_rule() -> None:
    authz = AlwaysAllowAuthorizer(DefaultPolicy())
    pods = Attributes("delete", True, resource="pods", namespace="kube-system", name="x")
    assert authz.authorize(NOBODY, pods) == (True, "")
    assert RBACAuthorizer(DefaultPolicy()).authorize(NOBODY, pods)[0] is False
    assert any(r.allows(pods) for r in authz.rules_for(NOBODY, "kube-system"))


def test_anonymous_auth(tmp_path: Path) -> None:
    pki.ensure_client(tmp_path)
    authn = Authenticator(tmp_path)
    rbac = RBACAuthorizer(DefaultPolicy())
    on = AuthMiddleware(_ok, authn, rbac)
    off = AuthMiddleware(_ok, authn, rbac, anonymous=False)
    assert _call(on, "GET", "/version")[0] == 200  # system:anonymous may read /version
    code, status = _call(on, "GET", "/api/v1/namespaces/default/pods")
    assert code == 403 and 'User "system:anonymous" cannot list resource "pods"' in status["message"]
    code, status = _call(off, "GET", "/version")
    assert code == 401 and status["reason"] == "Unauthorized"
    assert _call(off, "GET", "/dashboard/index.html")[0] == 200  # static files hold no cluster data
    admin = [(b"authorization", f"Bearer {pki.admin_token(tmp_path)}".encode())]
    assert _call(off, "GET", "/api/v1/namespaces/default/pods", admin)[0] == 200
    allow_all = AuthMiddleware(_ok, authn, AlwaysAllowAuthorizer(DefaultPolicy()))
    assert _call(allow_all, "DELETE", "/api/v1/namespaces/default/pods/x")[0] == 200


def test_daemon_refuses_always_allow_off_loopback_and_unknown_modes(tmp_path: Path) -> None:
    from minikube_lite.config import Settings
    from minikube_lite.daemon import Daemon

    with pytest.raises(SystemExit, match="AlwaysAllow: anyone who reaches it could do anything"):
        Daemon(Settings(state_dir=tmp_path / "a", host="0.0.0.0"), with_kubelet=False,
               authorization_mode="AlwaysAllow")
    assert not (tmp_path / "a").exists()  # refused before any store is opened or written
    with pytest.raises(SystemExit, match="'ABAC' is not one of RBAC, AlwaysAllow"):
        Daemon(Settings(state_dir=tmp_path / "b"), with_kubelet=False, authorization_mode="ABAC")


def test_boolean_flags_read_as_go_reads_them() -> None:
    import argparse

    from minikube_lite.daemon import _flag_bool

    assert _flag_bool("false") is False and _flag_bool("True") is True and _flag_bool("1") is True
    with pytest.raises(argparse.ArgumentTypeError):
        _flag_bool("maybe")


def test_run_loop_uses_uvloop_when_installed_and_asyncio_when_asked() -> None:
    import uvloop  # a dependency (pyproject.toml)

    from minikube_lite.daemon import run_loop

    seen: list[type] = []

    async def which() -> None:
        seen.append(type(asyncio.get_running_loop()))

    run_loop(which(), "auto")
    run_loop(which(), "asyncio")
    assert seen[0] is uvloop.Loop and not issubclass(seen[1], uvloop.Loop)
