"""The pause image: the tiny process that holds a pod's network namespace.

All containers of a pod share one network namespace (one pod IP, ``localhost`` between them).
Something must own that namespace while the app containers die and restart; Kubernetes runs a
"pause" container for it. No registry is reachable on the machines this project targets, so the
image is made here, from Python: a static ELF executable of three instructions (wait for a
signal, loop), written byte by byte, put in a tar and handed to ``docker import``.

x86-64 has the ``pause`` system call. aarch64 has none, so there the loop calls
``ppoll(NULL, 0, NULL, NULL)``, which also sleeps until a signal arrives. As PID 1 the program
ignores SIGTERM, so the kubelet removes the pause container with a kill, never a graceful stop,
and creates it with SIGKILL as its stop signal (spec.py), so the engine's own stop (dockerd shutting
down) does not wait 10 s for it either.
"""

from __future__ import annotations

import io
import os
import struct
import tarfile

import docker
import docker.errors

PAUSE_IMAGE = "minikube-lite/pause:1.0"

_LOAD_ADDRESS = 0x400000
_ELF_HEADER_SIZE = 64
_PROGRAM_HEADER_SIZE = 56

# x86-64:  loop: mov eax, 34 (SYS_pause); syscall; jmp loop
_X86_64_CODE = bytes.fromhex("b822000000" "0f05" "ebf7")


def _arm64(*words: int) -> bytes:
    return b"".join(struct.pack("<I", w) for w in words)


# aarch64: loop: mov x0..x3, #0; mov x8, #73 (SYS_ppoll); svc #0; b loop
_AARCH64_CODE = _arm64(
    0xD2800000,  # mov x0, #0   (fds = NULL)
    0xD2800001,  # mov x1, #0   (nfds = 0)
    0xD2800002,  # mov x2, #0   (timeout = NULL: forever)
    0xD2800003,  # mov x3, #0   (sigmask = NULL)
    0xD2800928,  # mov x8, #73
    0xD4000001,  # svc #0
    0x17FFFFFA,  # b loop (-6 instructions)
)

# machine name (os.uname().machine, what platform.machine() reads; platform is ~0.1 MB) -> (ELF e_machine, code)
_ARCHES: dict[str, tuple[int, bytes]] = {
    "x86_64": (62, _X86_64_CODE),
    "amd64": (62, _X86_64_CODE),
    "aarch64": (183, _AARCH64_CODE),
    "arm64": (183, _AARCH64_CODE),
}


def pause_executable(machine: str | None = None) -> bytes:
    """The bytes of a static ELF executable that sleeps until killed, for ``machine``."""
    machine = (machine or os.uname().machine).lower()
    if machine not in _ARCHES:
        raise RuntimeError(f"no pause executable for the {machine!r} architecture")
    e_machine, code = _ARCHES[machine]
    headers = _ELF_HEADER_SIZE + _PROGRAM_HEADER_SIZE
    size = headers + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, version 1, SysV
    elf_header = struct.pack(
        "<16sHHIQQQIHHHHHH",
        ident,
        2,  # ET_EXEC
        e_machine,
        1,  # EV_CURRENT
        _LOAD_ADDRESS + headers,  # entry point: the code right after the headers
        _ELF_HEADER_SIZE,  # program header table offset
        0,  # no section headers
        0,  # flags
        _ELF_HEADER_SIZE,
        _PROGRAM_HEADER_SIZE,
        1,  # one program header
        0, 0, 0,
    )
    program_header = struct.pack(
        "<IIQQQQQQ",
        1,  # PT_LOAD
        5,  # readable + executable
        0,  # the whole file ...
        _LOAD_ADDRESS,  # ... mapped at the load address
        _LOAD_ADDRESS,
        size,
        size,
        0x1000,
    )
    return elf_header + program_header + code


def pause_tar(machine: str | None = None) -> bytes:
    """A tar holding ``/pause``, ready for ``docker import``."""
    data = pause_executable(machine)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("pause")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def ensure_pause_image(client: docker.DockerClient, image: str = PAUSE_IMAGE) -> str:
    """Import the pause image unless the engine already has it; returns the image name."""
    try:
        client.images.get(image)
        return image
    except docker.errors.ImageNotFound:
        pass
    repository, _, tag = image.rpartition(":")
    client.api.import_image_from_data(pause_tar(), repository=repository, tag=tag,
                                      changes=['CMD ["/pause"]'])
    return image
