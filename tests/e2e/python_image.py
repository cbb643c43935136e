"""A pod image holding this machine's Python and the official ``kubernetes`` client, with no registry.

No registry is reachable here, so no ``python:3`` image can be pulled. The image is built like the
demo images (``docker import`` of a tar made in memory): the host's interpreter, exactly the
modules that ``from kubernetes import client, config`` loads (and the whole ``kubernetes``
package, whose API classes load lazily) (found by importing them in a child
process and listing ``sys.modules``), the shared libraries those need (``ldd``), at the same paths
as on the host so the interpreter finds its prefix. No hostPath: the pod sees only its image.
About 100 MB; built once per content hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import docker
import docker.errors

IMAGE = "minikube-lite/python-client:1.0"
_PROBE = r"""
import sys, json
from kubernetes import client, config
from kubernetes.client.rest import ApiException
import encodings.idna, encodings.utf_8, encodings.latin_1, encodings.ascii, json.decoder, ssl, http.client
print(json.dumps(sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})))
"""


def _libraries(paths: list[str]) -> set[str]:
    libs: set[str] = set()
    for path in paths:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            parts = line.split()
            target = parts[2] if len(parts) >= 3 and parts[1] == "=>" else (parts[0] if parts else "")
            if target.startswith("/"):
                libs.add(target)
    return libs


def _files() -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    modules = [m for m in json.loads(out) if os.path.isfile(m)]
    exe = os.path.realpath(sys.executable)
    files = set(modules) | {exe}
    # the client (and pydantic under it) import parts lazily: take every site-packages package whole
    for m in modules:
        parts = Path(m).parts
        if "site-packages" in parts:
            i = parts.index("site-packages")
            if len(parts) > i + 2:
                top = Path(*parts[:i + 2])
                files |= {str(f) for f in top.rglob("*") if f.suffix in (".py", ".so", ".pem")}
    files |= _libraries([f for f in files if f.endswith(".so") or f == exe])
    return sorted(f for f in files if os.path.isfile(f))


def ensure_python_image() -> str:
    """Build (once per content) the image; returns its name."""
    files = _files()
    digest = hashlib.sha256("\n".join(f"{f}:{os.path.getsize(f)}" for f in files).encode()).hexdigest()[:16]
    client = docker.from_env()
    try:
        if client.images.get(IMAGE).labels.get("io.minikube-lite.image-hash") == digest:
            return IMAGE
    except docker.errors.ImageNotFound:
        pass
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs: set[str] = set()
        for f in files:
            parent = Path(f).parent
            for d in reversed([parent, *parent.parents]):
                if str(d) != "/" and str(d) not in dirs:
                    dirs.add(str(d))
                    info = tarfile.TarInfo(str(d).lstrip("/"))
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            tar.add(os.path.realpath(f), arcname=f.lstrip("/"), recursive=False)
        for name in ("tmp", "etc"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
    exe = os.path.realpath(sys.executable)
    changes = [f'ENTRYPOINT ["{exe}"]', "ENV PYTHONDONTWRITEBYTECODE=1",
               f"LABEL io.minikube-lite.image-hash={digest}"]
    cmd = ["docker", "import", *[a for c in changes for a in ("--change", c)], "-", IMAGE]
    subprocess.run(cmd, input=buf.getvalue(), check=True, capture_output=True)
    return IMAGE
