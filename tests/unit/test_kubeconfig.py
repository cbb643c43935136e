"""The kubeconfig context: merged into what is there, never clobbering other entries.

Every test writes to a temporary file through ``$KUBECONFIG`` (monkeypatched), so the real
``~/.kube/config`` is never read or written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from minikube_lite import kubeconfig
from minikube_lite.config import Settings

OTHER = {
    "apiVersion": "v1",
    "kind": "Config",
    "preferences": {"colors": True},
    "clusters": [{"name": "prod", "cluster": {"server": "https://prod:6443", "certificate-authority-data": "QUJD"}},
                 {"name": "minikube-lite", "cluster": {"server": "http://127.0.0.1:1"}}],
    "users": [{"name": "admin", "user": {"token": "secret"}}],
    "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}],
    "current-context": "prod",
    "extensions": [{"name": "keep-me", "extension": {"x": 1}}],
}


@pytest.fixture
def kc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kube" / "config"
    monkeypatch.setenv("KUBECONFIG", f"{path}:{tmp_path / 'second'}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return path


def settings(tmp_path: Path, port: int = 18080) -> Settings:
    return Settings(state_dir=tmp_path / "state", port=port, secure=False)


def test_path_is_first_entry_of_kubeconfig(kc: Path) -> None:
    assert kubeconfig.kubeconfig_path() == kc


def test_path_defaults_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kubeconfig.kubeconfig_path() == tmp_path / ".kube" / "config"


def test_creates_missing_file_and_folder(kc: Path, tmp_path: Path) -> None:
    assert kubeconfig.write_context(settings(tmp_path)) == kc
    data = yaml.safe_load(kc.read_text())
    assert data["current-context"] == "minikube-lite"
    assert data["clusters"] == [{"name": "minikube-lite", "cluster": {"server": "http://127.0.0.1:18080"}}]
    assert data["users"] == [{"name": "minikube-lite", "user": {}}]
    assert data["contexts"] == [{"name": "minikube-lite", "context": {
        "cluster": "minikube-lite", "user": "minikube-lite", "namespace": "default"}}]
    assert kc.stat().st_mode & 0o777 == 0o600
    assert kubeconfig.current_server() == "http://127.0.0.1:18080"


def test_merges_without_clobbering(kc: Path, tmp_path: Path) -> None:
    kc.parent.mkdir(parents=True)
    kc.write_text(yaml.safe_dump(OTHER))
    kubeconfig.write_context(settings(tmp_path))
    data = yaml.safe_load(kc.read_text())
    assert {c["name"] for c in data["clusters"]} == {"prod", "minikube-lite"}
    prod = next(c for c in data["clusters"] if c["name"] == "prod")
    assert prod == OTHER["clusters"][0]
    ours = [c for c in data["clusters"] if c["name"] == "minikube-lite"]
    assert ours == [{"name": "minikube-lite", "cluster": {"server": "http://127.0.0.1:18080"}}]  # replaced, once
    assert {u["name"] for u in data["users"]} == {"admin", "minikube-lite"}
    assert {c["name"] for c in data["contexts"]} == {"prod", "minikube-lite"}
    assert data["preferences"] == {"colors": True}
    assert data["extensions"] == OTHER["extensions"]
    assert data["current-context"] == "minikube-lite"


def test_rewrite_is_idempotent(kc: Path, tmp_path: Path) -> None:
    kubeconfig.write_context(settings(tmp_path))
    first = kc.read_text()
    kubeconfig.write_context(settings(tmp_path))
    assert kc.read_text() == first


def test_remove_context_keeps_others_and_unsets_current(kc: Path, tmp_path: Path) -> None:
    kc.parent.mkdir(parents=True)
    kc.write_text(yaml.safe_dump(OTHER))
    kubeconfig.write_context(settings(tmp_path))
    assert kubeconfig.remove_context() is True
    data = yaml.safe_load(kc.read_text())
    assert [c["name"] for c in data["clusters"]] == ["prod"]
    assert [c["name"] for c in data["users"]] == ["admin"]
    assert [c["name"] for c in data["contexts"]] == ["prod"]
    assert data["current-context"] == ""
    assert kubeconfig.remove_context() is False


def test_remove_context_only_for_our_server(kc: Path, tmp_path: Path) -> None:
    kubeconfig.write_context(settings(tmp_path, port=18080))
    assert kubeconfig.remove_context(only_server="http://127.0.0.1:9999") is False
    assert kubeconfig.current_server() == "http://127.0.0.1:18080"
    assert kubeconfig.remove_context(only_server="http://127.0.0.1:18080") is True
    assert kubeconfig.current_server() is None


def test_keeps_other_current_context_when_removing(kc: Path, tmp_path: Path) -> None:
    kubeconfig.write_context(settings(tmp_path))
    data = yaml.safe_load(kc.read_text())
    data["current-context"] = "elsewhere"
    kc.write_text(yaml.safe_dump(data))
    kubeconfig.remove_context()
    assert yaml.safe_load(kc.read_text())["current-context"] == "elsewhere"


def test_invalid_file_is_left_untouched(kc: Path, tmp_path: Path) -> None:
    kc.parent.mkdir(parents=True)
    kc.write_text("clusters: [unclosed\n")
    with pytest.raises(kubeconfig.KubeconfigError):
        kubeconfig.write_context(settings(tmp_path))
    assert kc.read_text() == "clusters: [unclosed\n"
    assert kubeconfig.remove_context() is False
    assert kubeconfig.current_server() is None


def test_empty_file_is_filled(kc: Path, tmp_path: Path) -> None:
    kc.parent.mkdir(parents=True)
    kc.write_text("")
    kubeconfig.write_context(settings(tmp_path))
    assert yaml.safe_load(kc.read_text())["kind"] == "Config"


def test_render_is_a_standalone_config(tmp_path: Path) -> None:
    data = kubeconfig.render(settings(tmp_path, port=1234))
    assert data["current-context"] == "minikube-lite"
    assert data["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:1234"


def test_secure_cluster_embeds_ca_and_admin_certificate(tmp_path: Path) -> None:
    import base64

    from minikube_lite.auth import pki

    settings = Settings(state_dir=tmp_path / "state", port=8443)
    paths = pki.ensure_client(settings.state_dir)
    data = kubeconfig.render(settings)
    cluster = data["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:8443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == paths.ca_crt.read_bytes()
    user = data["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == paths.client_crt.read_bytes()
    assert base64.b64decode(user["client-key-data"]) == paths.client_key.read_bytes()
    assert paths.client_key.stat().st_mode & 0o777 == 0o600 and paths.dir.stat().st_mode & 0o777 == 0o700
