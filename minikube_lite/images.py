"""Build the demo and test images locally, from a statically linked busybox, with no registry.

No container registry is reachable on these machines, so nothing can be pulled. Every image the
demo and the tests need is made here from the statically linked busybox of Debian's
``busybox-static`` package (``/bin/busybox``), packed into a tar stream in memory and handed to
the engine's image import (``docker import``), the same as::

    tar -C dir -c . | docker import --change 'CMD [...]' - minikube-lite/busybox:1.0

Images:

* ``minikube-lite/busybox:1.0`` -- busybox with every applet linked in ``/bin`` (sh, sleep, nc,
  httpd, wget, cat, ...). ``CMD ["sh"]``.
* ``minikube-lite/multi-client:1.0`` -- stands for the course's ``stephengrider/multi-client``
  (which a connected machine simply pulls): busybox ``httpd`` serving a small HTML page
  ("multi-client, served from pod $HOSTNAME", written at container start) on port 3000. PID 1 is
  a shell that traps SIGTERM, so ``docker stop`` returns at once instead of after 10 s.

Building is idempotent: each image carries a label with the hash of its content (files and
image config); an image that already has the same hash is left alone.

``python -m minikube_lite.images`` builds them all.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minikube_lite import multi_tier_images

HASH_LABEL = "io.minikube-lite.image-hash"
BUSYBOX_IMAGE = "minikube-lite/busybox:1.0"
MULTI_CLIENT_IMAGE = "minikube-lite/multi-client:1.0"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

MULTI_CLIENT_START = r"""#!/bin/sh
# minikube-lite's stand-in for stephengrider/multi-client: a tiny web page on port 3000.
PORT="${PORT:-3000}"
mkdir -p /www
cat > /www/index.html <<EOF
<!doctype html>
<html>
<head><meta charset="utf-8"><title>multi-client</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>multi-client</h1>
<p>multi-client, served from pod $(hostname)</p>
<p>Hello from minikube-lite! This page stands for the course's stephengrider/multi-client image.</p>
</body>
</html>
EOF
echo "multi-client: serving /www on port $PORT"
httpd -f -p "$PORT" -h /www &
child=$!
trap 'kill "$child" 2>/dev/null; exit 0' TERM INT
wait "$child"
"""

ETC_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
ETC_GROUP = "root:x:0:\nnogroup:x:65534:\n"


class ImageBuildError(RuntimeError):
    """The image could not be built (no static busybox, engine refused the import, ...)."""


@dataclass
class ImageSpec:
    """One image: its reference, extra files (path -> (content, mode)) and Dockerfile-style changes."""

    ref: str
    changes: list[str]
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)


def find_busybox() -> Path:
    """The static busybox binary; raises with the fix when there is none."""
    env = os.environ.get("MINIKUBE_LITE_BUSYBOX")
    for candidate in ([env] if env else []) + list(BUSYBOX_CANDIDATES):
        path = Path(candidate)
        if path.is_file() and is_static_elf(path):
            return path
    raise ImageBuildError(
        "no statically linked busybox found (looked at "
        + ", ".join(BUSYBOX_CANDIDATES)
        + "); install it with: apt-get install -y busybox-static (or run scripts/setup.sh)"
    )


def is_static_elf(path: Path) -> bool:
    """True when ``path`` is an ELF executable with no program interpreter (what ``file`` calls static)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF":
            return False
        is64 = head[4] == 2
        endian = "little" if head[5] == 1 else "big"

        def num(off: int, size: int) -> int:
            return int.from_bytes(head[off:off + size], endian)

        if is64:
            phoff, phentsize, phnum = num(32, 8), num(54, 2), num(56, 2)
        else:
            phoff, phentsize, phnum = num(28, 4), num(42, 2), num(44, 2)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type = int.from_bytes(table[i * phentsize:i * phentsize + 4], endian)
        if p_type == 3:  # PT_INTERP: dynamically linked
            return False
    return True


def busybox_applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({name.strip() for name in out.split() if name.strip() and "/" not in name})


def _add(tar: tarfile.TarFile, name: str, *, data: bytes | None = None, mode: int = 0o755,
         kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if kind == tarfile.SYMTYPE:
        info.linkname = link
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def rootfs_tar(spec: ImageSpec, busybox: Path, applets: list[str]) -> bytes:
    """A deterministic tar of the image's root filesystem (same input -> same bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        base_dirs = ["bin", "etc", "root", "proc", "sys", "dev", "usr", "usr/bin", "sbin", "var", "www"]
        for d in base_dirs + spec.dirs:
            _add(tar, d, kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        _add(tar, "bin/busybox", data=busybox.read_bytes(), mode=0o755)
        for applet in applets:
            if applet != "busybox":
                _add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox", mode=0o777)
        _add(tar, "etc/passwd", data=ETC_PASSWD.encode(), mode=0o644)
        _add(tar, "etc/group", data=ETC_GROUP.encode(), mode=0o644)
        for name, (content, mode) in sorted(spec.files.items()):
            _add(tar, name.lstrip("/"), data=content, mode=mode)
    return buf.getvalue()


def specs() -> list[ImageSpec]:
    env_path = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return [
        ImageSpec(ref=BUSYBOX_IMAGE, changes=[env_path, 'CMD ["sh"]', "WORKDIR /"]),
        ImageSpec(
            ref=MULTI_CLIENT_IMAGE,
            changes=[env_path, 'CMD ["/bin/sh", "/app/start.sh"]', "WORKDIR /app", "EXPOSE 3000"],
            files={"app/start.sh": (MULTI_CLIENT_START.encode(), 0o755)},
            dirs=["app"],
        ),
        *multi_tier_images.specs(ImageSpec, env_path),  # examples/multi-tier/
    ]


def _content_hash(tar_bytes: bytes, changes: list[str]) -> str:
    h = hashlib.sha256(tar_bytes)
    h.update(json.dumps(changes).encode())
    return h.hexdigest()[:16]


def _existing_hash(client: Any, ref: str) -> str | None:
    import docker.errors

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    return (image.labels or {}).get(HASH_LABEL)


def build_image(client: Any, spec: ImageSpec, busybox: Path, applets: list[str]) -> bool:
    """Import one image unless it already exists with the same content. Returns whether it was built."""
    tar_bytes = rootfs_tar(spec, busybox, applets)
    digest = _content_hash(tar_bytes, spec.changes)
    if _existing_hash(client, spec.ref) == digest:
        return False
    repository, tag = spec.ref.rsplit(":", 1)
    changes = spec.changes + [f"LABEL {HASH_LABEL}={digest}"]
    out = client.api.import_image_from_data(tar_bytes, repository=repository, tag=tag, changes=changes)
    text = out if isinstance(out, str) else json.dumps(out)
    for line in text.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("error"):
            raise ImageBuildError(f"importing {spec.ref} failed: {msg['error']}")
    if _existing_hash(client, spec.ref) != digest:
        raise ImageBuildError(f"importing {spec.ref} did not produce the image (engine said: {text.strip()})")
    return True


def ensure_images(client: Any = None) -> list[str]:
    """Make sure every local image exists with its current content; returns the refs of all of them."""
    if client is None:
        import docker

        client = docker.from_env()
    busybox = find_busybox()
    applets = busybox_applets(busybox)
    refs = []
    for spec in specs():
        build_image(client, spec, busybox, applets)
        refs.append(spec.ref)
    return refs


def main(argv: list[str] | None = None) -> int:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no engine"
        print(f"❌  the Docker engine does not answer ({exc}); run scripts/ensure-docker.sh", file=sys.stderr)
        return 1
    try:
        busybox = find_busybox()
        applets = busybox_applets(busybox)
        for spec in specs():
            built = build_image(client, spec, busybox, applets)
            print(f"{'🔨  built' if built else '✅  up to date'}: {spec.ref}")
    except ImageBuildError as exc:
        print(f"❌  {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
