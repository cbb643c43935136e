"""Pod volumes on the host, bind-mounted into the containers, as Kubernetes' kubelet lays them out.

Each pod gets a folder ``<root>/pods/<uid>/`` under the cluster's state folder; a volume of
the pod is a folder there (or somewhere else on the host for ``hostPath`` and claims) and every
``volumeMount`` is a Docker bind mount of it (with ``subPath`` and ``readOnly``), so all the
containers of a pod share the same files. The pod's folder is removed when the pod goes.

- ``emptyDir``: an empty folder; ``medium: Memory`` mounts a tmpfs on it (``sizeLimit`` as its size).
- ``hostPath``: the host's path, checked or created by ``type`` as Kubernetes does
  (``DirectoryOrCreate``, ``Directory``, ``FileOrCreate``, ``File``, ``Socket``, ``CharDevice``,
  ``BlockDevice``); a failed check is ``FailedMount`` and the pod waits in ContainerCreating.
- ``configMap``, ``secret``, ``downwardAPI``, ``projected``: files written with Kubernetes'
  atomic writer layout: the payload in a hidden folder, a ``..data`` symlink to it, and one
  symlink per top-level name pointing into ``..data``. An update writes a new hidden folder and
  renames a fresh symlink over ``..data``, so a reader never sees half an update; the kubelet
  does it on every sync of the pod (and syncs pods when a config map or secret they use changes).
  These volumes are mounted read-only, as in Kubernetes.
- ``persistentVolumeClaim``: the bound PersistentVolume's host folder (``spec.hostPath.path``, or
  ``spec.local.path``); a claim that is missing or not Bound is ``FailedMount`` and the pod waits.

The file-writing helpers are plain functions so their rules can be unit-tested on a temp folder.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.types import Mount

from minikube_lite.api.errors import NotFound

from .base import KubeletBase, pod_uid
from .spec import ConfigError, field_ref_value, parse_quantity, resource_ref_value

log = logging.getLogger(__name__)

DATA_LINK = "..data"
DEFAULT_MODE = 0o644


class MountError(Exception):
    """A volume cannot be set up (yet): the pod waits, with a ``FailedMount`` event."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')
        self.volume = volume


@dataclass(frozen=True)
class HostVolume:
    """Where a pod volume lives on the host."""

    path: Path
    read_only: bool = False  # configMap/secret/downwardAPI/projected: always mounted read-only


Payload = dict[str, tuple[bytes, int]]  # relative path -> (content, mode)


# ---- the atomic writer ----------------------------------------------------------------------

def _digest(payload: Payload) -> str:
    h = hashlib.sha256()
    for path in sorted(payload):
        content, mode = payload[path]
        h.update(path.encode() + b"\0" + str(mode).encode() + b"\0" + content + b"\0")
    return h.hexdigest()[:20]


def write_atomic(target: Path, payload: Payload) -> bool:
    """Make ``target`` show exactly ``payload`` (Kubernetes' ``..data`` layout); True if it changed."""
    target.mkdir(parents=True, exist_ok=True)
    for rel in payload:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts or parts[0].startswith(".."):
            raise ValueError(f"invalid path {rel!r}: must be relative and may not contain '..'")
    name = f"..{_digest(payload)}"
    data_link = target / DATA_LINK
    if data_link.is_symlink() and os.readlink(data_link) == name and (target / name).is_dir():
        return False
    staging = target / f"{name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for rel, (content, mode) in payload.items():
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    staging.chmod(0o755)
    if (target / name).exists():
        shutil.rmtree(target / name)
    staging.rename(target / name)
    tmp_link = target / f"{DATA_LINK}_tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    tmp_link.symlink_to(name)
    os.replace(tmp_link, data_link)  # the atomic switch
    top = {Path(rel).parts[0] for rel in payload}
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            if entry.name not in (name, DATA_LINK) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if entry.name not in top and entry.is_symlink():
            entry.unlink()
    for first in top:
        link = target / first
        if not link.is_symlink():
            link.symlink_to(f"{DATA_LINK}/{first}")
    return True


# ---- payloads -------------------------------------------------------------------------------

def _mode(value: Any, default: int) -> int:
    return int(value) if value is not None else default


def keyed_payload(kind: str, name: str, data: dict[str, bytes] | None, source: dict[str, Any],
                  default_mode: int) -> Payload:
    """Files of a configMap/secret volume (or projection): every key, or ``items`` (key -> path)."""
    optional = bool(source.get("optional"))
    if data is None:
        if optional:
            return {}
        raise ConfigError(f'{kind} "{name}" not found')
    items = source.get("items")
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    out: Payload = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise ConfigError(f'configmap references non-existent config key: {key}' if kind == "configmap"
                              else f"references non-existent secret key: {key}")
        out[item.get("path") or key] = (data[key], _mode(item.get("mode"), default_mode))
    return out


def object_bytes(resource: str, obj: dict[str, Any]) -> dict[str, bytes]:
    if resource == "secrets":
        out = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        out.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
        return out
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def downward_payload(pod: dict[str, Any], items: list[dict[str, Any]], default_mode: int) -> Payload:
    containers = {c["name"]: c for c in (pod.get("spec") or {}).get("containers") or []}
    out: Payload = {}
    for item in items:
        if "fieldRef" in item:
            value = field_ref_value(pod, (item["fieldRef"] or {}).get("fieldPath", ""),
                                    pod_ip=(pod.get("status") or {}).get("podIP"),
                                    host_ip=(pod.get("status") or {}).get("hostIP"))
        elif "resourceFieldRef" in item:
            ref = item["resourceFieldRef"] or {}
            value = resource_ref_value(containers.get(ref.get("containerName", ""), {}), ref)
        else:
            continue
        out[item.get("path", "")] = (value.encode(), _mode(item.get("mode"), default_mode))
    return out


def check_host_path(path: str, kind: str | None) -> None:
    """Kubernetes' hostPath ``type`` checks (creating what ``...OrCreate`` asks for)."""
    p = Path(path)
    kind = kind or ""

    def fail(what: str) -> None:
        raise ConfigError(f"hostPath type check failed: {path} is not a {what}")

    if kind == "DirectoryOrCreate":
        if not p.exists():
            p.mkdir(parents=True, mode=0o755)
        elif not p.is_dir():
            fail("directory")
    elif kind == "Directory":
        if not p.is_dir():
            fail("directory")
    elif kind == "FileOrCreate":
        if not p.exists():
            if not p.parent.is_dir():
                raise ConfigError(f"hostPath type check failed: the parent folder of {path} does not exist")
            p.touch(mode=0o644)
        elif not p.is_file():
            fail("file")
    elif kind == "File":
        if not p.is_file():
            fail("file")
    elif kind in ("Socket", "CharDevice", "BlockDevice"):
        test = {"Socket": stat.S_ISSOCK, "CharDevice": stat.S_ISCHR, "BlockDevice": stat.S_ISBLK}[kind]
        try:
            ok = test(p.stat().st_mode)
        except OSError:
            ok = False
        if not ok:
            fail({"Socket": "socket file", "CharDevice": "character device", "BlockDevice": "block device"}[kind])
    elif kind:
        raise ConfigError(f"hostPath type {kind!r} is not supported")


def container_mounts(container: dict[str, Any], volumes: dict[str, HostVolume]) -> list[Mount]:
    """The Docker bind mounts of a container's ``volumeMounts`` (``subPath`` folders are created)."""
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts") or []:
        vol = volumes.get(vm.get("name", ""))
        if vol is None:
            raise ConfigError(f'volume "{vm.get("name")}" not found in the pod')
        source = vol.path
        sub = vm.get("subPath") or ""
        if sub:
            if Path(sub).is_absolute() or ".." in Path(sub).parts:
                raise ConfigError(f"invalid subPath {sub!r}: must be relative and may not contain '..'")
            source = vol.path / sub
            if not source.exists() and not source.is_symlink():
                source.mkdir(parents=True, mode=0o777, exist_ok=True)
                source.chmod(0o777)
        mounts.append(Mount(target=vm["mountPath"], source=str(source), type="bind",
                            read_only=bool(vm.get("readOnly")) or vol.read_only))
    return mounts


# ---- the kubelet's part ---------------------------------------------------------------------

class Volumes(KubeletBase):
    async def _setup_volumes(self, pod: dict[str, Any]) -> dict[str, HostVolume]:
        """Create/refresh every volume of ``pod``; raises MountError for the first that cannot be."""
        volumes: dict[str, HostVolume] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            name = vol.get("name", "")
            try:
                volumes[name] = await self._setup_volume(pod, vol)
            except ConfigError as e:
                raise MountError(name, str(e)) from e
            except OSError as e:
                raise MountError(name, f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")) from e
        return volumes

    async def _service_account_token(self, pod: dict[str, Any], source: dict[str, Any]) -> str:
        """A token bound to this pod (TokenRequest through the API), asked again at 80 % of its life,
        as the kubelet's token manager does; the volume is rewritten on the pod's next sync."""
        import time

        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        sa = spec.get("serviceAccountName") or "default"
        audience = source.get("audience") or ""
        key = (meta.get("uid", ""), sa, audience, int(source.get("expirationSeconds") or 3607))
        cache: dict[Any, tuple[str, float, float]] = self.__dict__.setdefault("_tokens", {})
        hit = cache.get(key)
        now = time.time()
        if hit is not None and now < hit[2]:
            return hit[0]
        body: dict[str, Any] = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": {"expirationSeconds": key[3],
                                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                                            "name": meta.get("name"), "uid": meta.get("uid")}}}
        if audience:
            body["spec"]["audiences"] = [audience]
        try:
            answer = await self._client.create_token(meta.get("namespace", "default"), sa, body)
        except NotFound as e:
            raise ConfigError(f'serviceaccount "{sa}" not found') from e
        token = answer["status"]["token"]
        cache[key] = (token, now + key[3], now + key[3] * 0.8)
        return token

    async def _get_object(self, resource: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        try:
            return await self._client.get(resource, name, namespace=namespace)
        except NotFound:
            return None

    async def _keyed(self, resource: str, source: dict[str, Any], ns: str, default_mode: int) -> Payload:
        name = source.get("name") or source.get("secretName") or ""
        obj = await self._get_object(resource, name, ns)
        data = object_bytes(resource, obj) if obj is not None else None
        return keyed_payload("secret" if resource == "secrets" else "configmap", name, data, source, default_mode)

    async def _setup_volume(self, pod: dict[str, Any], vol: dict[str, Any]) -> HostVolume:
        uid, ns = pod_uid(pod), (pod.get("metadata") or {}).get("namespace", "default")
        here = self.pod_dir(uid) / "volumes" / vol["name"]
        if "hostPath" in vol:
            source = vol["hostPath"] or {}
            await self._docker(check_host_path, source.get("path", ""), source.get("type"))
            return HostVolume(Path(source.get("path", "")))
        if "persistentVolumeClaim" in vol:
            return await self._claim_volume(vol["persistentVolumeClaim"] or {}, ns)
        if "configMap" in vol or "secret" in vol:
            resource = "configmaps" if "configMap" in vol else "secrets"
            source = vol.get("configMap") or vol.get("secret") or {}
            payload = await self._keyed(resource, source, ns, _mode(source.get("defaultMode"), DEFAULT_MODE))
            await self._docker(write_atomic, here, payload)
            return HostVolume(here, read_only=True)
        if "downwardAPI" in vol:
            source = vol["downwardAPI"] or {}
            payload = downward_payload(pod, source.get("items") or [], _mode(source.get("defaultMode"), DEFAULT_MODE))
            await self._docker(write_atomic, here, payload)
            return HostVolume(here, read_only=True)
        if "projected" in vol:
            source = vol["projected"] or {}
            default_mode = _mode(source.get("defaultMode"), DEFAULT_MODE)
            payload: Payload = {}
            for src in source.get("sources") or []:
                if "configMap" in src:
                    payload.update(await self._keyed("configmaps", src["configMap"] or {}, ns, default_mode))
                elif "secret" in src:
                    payload.update(await self._keyed("secrets", src["secret"] or {}, ns, default_mode))
                elif "downwardAPI" in src:
                    payload.update(downward_payload(pod, (src["downwardAPI"] or {}).get("items") or [],
                                                    default_mode))
                elif "serviceAccountToken" in src:
                    token = await self._service_account_token(pod, src["serviceAccountToken"] or {})
                    payload[(src["serviceAccountToken"] or {}).get("path", "token")] = (token.encode(), default_mode)
            await self._docker(write_atomic, here, payload)
            return HostVolume(here, read_only=True)
        # emptyDir (also the default when no source is given)
        source = vol.get("emptyDir") or {}
        await self._docker(self._empty_dir, here, source.get("medium") == "Memory", source.get("sizeLimit"))
        return HostVolume(here)

    @staticmethod
    def _empty_dir(path: Path, memory: bool, size_limit: Any) -> None:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)  # Kubernetes' emptyDir is world-writable: any container user may write
        if memory and not os.path.ismount(path):
            options = "mode=0777"
            if size_limit:
                options += f",size={int(parse_quantity(size_limit))}"
            subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True,
                           capture_output=True, timeout=10)

    async def _claim_volume(self, source: dict[str, Any], ns: str) -> HostVolume:
        name = source.get("claimName", "")
        claim = await self._get_object("persistentvolumeclaims", name, ns)
        if claim is None:
            raise ConfigError(f'persistentvolumeclaim "{name}" not found')
        phase = (claim.get("status") or {}).get("phase") or "Pending"
        pv_name = (claim.get("spec") or {}).get("volumeName")
        if phase != "Bound" or not pv_name:
            raise ConfigError(f'persistentvolumeclaim "{name}" is not bound (phase: {phase})')
        pv = await self._get_object("persistentvolumes", pv_name, None)
        if pv is None:
            raise ConfigError(f'persistentvolume "{pv_name}" not found')
        spec = pv.get("spec") or {}
        path = ((spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path"))
        if not path:
            raise ConfigError(f'persistentvolume "{pv_name}" has no host path (hostPath or local)')
        await self._docker(lambda: Path(path).mkdir(parents=True, exist_ok=True))
        return HostVolume(Path(path), read_only=bool(source.get("readOnly")))

    def _unmount_all(self) -> None:
        """Unmount every tmpfs volume under the kubelet's folder (blocking)."""
        pods = self.root_dir / "pods"
        if not pods.is_dir():
            return
        for vol in pods.glob("*/volumes/*"):
            if os.path.ismount(vol):
                subprocess.run(["umount", "-l", str(vol)], capture_output=True, timeout=10, check=False)

    def _remove_pod_dir(self, uid: str) -> None:
        """Unmount the pod's tmpfs volumes and remove its folder (blocking: run in the pool)."""
        folder = self.pod_dir(uid)
        if not folder.exists():
            return
        volumes = folder / "volumes"
        if volumes.is_dir():
            for vol in volumes.iterdir():
                if os.path.ismount(vol):
                    subprocess.run(["umount", "-l", str(vol)], capture_output=True, timeout=10, check=False)
        shutil.rmtree(folder, ignore_errors=True)
