"""The kubelet's client certificate rotation, for a node that joined from another machine.

Kubelet (``rotateCertificates``, on by default with kubeadm) renews its client certificate before
it expires: at a jittered 70-90 % of its lifetime (client-go's certificate manager,
``nextRotationDeadline``) it makes a new key and a CSR signed with its current certificate; the
csrapproving controller approves it as ``selfnodeclient`` (kubeadm binds that to ``system:nodes``)
and the new certificate replaces the old one. Here the same, in the agent's loop: the new pair is
written over ``kubelet-client-current.{crt,key}`` (node/join.py) and loaded into the TLS context the
agent's API client uses, so new connections present it. The certificate's dates are read with the
standard library's decoder, so ``cryptography`` is imported only when a renewal is due.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from pathlib import Path

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0


def rotation_deadline(not_before: float, not_after: float, jitter: float) -> float:
    """When to renew: notBefore + (70 % + 20 % * jitter) of the lifetime (jitter in [0, 1))."""
    return not_before + (not_after - not_before) * (0.7 + 0.2 * jitter)


def certificate_times(path: Path) -> tuple[float, float]:
    """(notBefore, notAfter) of a PEM certificate, as epoch seconds."""
    # CPython's own PEM decoder (private, but in every CPython since 2.7): cryptography's x509 loader
    # would stay in the node agent's memory for good (+15 MB RSS measured; the agent imports none of it)
    decoded = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
    return ssl.cert_time_to_seconds(decoded["notBefore"]), ssl.cert_time_to_seconds(decoded["notAfter"])


async def rotate_client_certificate(server: str, ca_pem: bytes, name: str, data_dir: Path,
                                    context: ssl.SSLContext) -> None:
    """Forever: sleep until the current certificate's deadline, renew it, load it into ``context``."""
    from .join import JoinError, client_files

    crt, key = client_files(data_dir)
    jitter = random.random()
    while True:
        try:
            not_before, not_after = certificate_times(crt)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cannot read the client certificate %s: %s", crt, exc)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        wait = rotation_deadline(not_before, not_after, jitter) - time.time()
        if wait > 0:
            log.info("client certificate valid until %s; rotation in %.0f s",
                     time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(not_after)), wait)
            await asyncio.sleep(min(wait, 3600.0))  # re-read: the file may have been replaced meanwhile
            continue
        try:
            from .join import renew_client_certificate

            await asyncio.to_thread(renew_client_certificate, server, ca_pem, name, data_dir)
        except (JoinError, OSError) as exc:
            log.warning("client certificate rotation failed: %s; retrying in %.0f s", exc, RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        context.load_cert_chain(str(crt), str(key))
        jitter = random.random()
        log.info("client certificate rotated (a new key and certificate through a CSR)")
