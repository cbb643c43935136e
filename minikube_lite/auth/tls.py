"""HTTPS for the API server: uvicorn's TLS with optional client certificates, and who is on the other end.

kube-apiserver asks every client for a certificate and accepts connections without one (they
may bring a token, or be anonymous): ``CERT_OPTIONAL`` against the cluster CA. A certificate
the CA did not sign fails the handshake, as there. ASGI gives an application no view of the
peer's certificate, so the server's HTTP protocol (uvicorn's, through :func:`with_peer_identity`;
the kubelet's, kubelet/httpserver.py) records the verified subject of each connection, keyed by
the client's address, for the authentication filter to read; a WebSocket upgrade keeps the connection, and so the entry.

The serving certificate can be replaced while serving (:func:`reload`): the node's address
becomes known only after the pods' network exists, and new connections then get the new one.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

from . import pki

# Forward-secret AEAD suites only (TLS 1.3's are not set here). The security level is 0 for one
# reason: a TLS 1.2 client that sends no signature_algorithms (busybox's wget, in every busybox
# pod) must be answered with an ECDSA-SHA1 ServerKeyExchange signature, as RFC 5246 says and Go's
# crypto/tls (kube-apiserver) does; OpenSSL 3 refuses SHA-1 there from level 1 up ("no shared
# cipher"). Keys are all ours (P-256), so the level buys nothing else.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:@SECLEVEL=0"
# (client host, client port) -> (user, groups) of the certificate that connection presented
PEERS: dict[tuple[str, int], tuple[str, tuple[str, ...]]] = {}
_contexts: list[ssl.SSLContext] = []


def identity(peercert: dict[str, Any] | None) -> tuple[str, tuple[str, ...]] | None:
    """CN as the user, every O as a group: how Kubernetes reads a client certificate."""
    if not peercert:
        return None
    cn = ""
    groups: list[str] = []
    for rdn in peercert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                groups.append(value)
    return (cn, tuple(groups)) if cn else None


def remember_peer(client: tuple[str, int] | None, transport: asyncio.BaseTransport) -> None:
    """Record the verified certificate (if any) of the connection from ``client``."""
    who = identity(transport.get_extra_info("peercert"))
    if client is not None and who is not None:
        PEERS[(str(client[0]), int(client[1]))] = who
    else:
        forget_peer(client)


def forget_peer(client: tuple[str, int] | None) -> None:
    if client is not None:
        PEERS.pop((str(client[0]), int(client[1])), None)


def with_peer_identity(base: type[Any]) -> type[Any]:
    """uvicorn's HTTP protocol class ``base``, recording each connection's verified certificate."""

    class PeerHTTPProtocol(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            remember_peer(self.client, transport)

        def connection_lost(self, exc: Exception | None) -> None:
            forget_peer(self.client)
            super().connection_lost(exc)

    return PeerHTTPProtocol


def peer_of(scope: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    client = scope.get("client")
    if not client:
        return None
    return PEERS.get((str(client[0]), int(client[1])))


def context_factory(state_dir: Path) -> Any:
    """uvicorn's ``ssl_context_factory``: the serving certificate, client certificates optional."""

    def factory(config: Any, default: Any) -> ssl.SSLContext:
        p = pki.paths(state_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(CIPHERS)
        ctx.load_cert_chain(str(p.server_crt), str(p.server_key))
        ctx.load_verify_locations(cafile=str(p.ca_crt))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        _contexts.append(ctx)
        return ctx

    return factory


def reload(state_dir: Path) -> None:
    """Serve the (new) certificate on every later connection."""
    p = pki.paths(state_dir)
    for ctx in _contexts:
        ctx.load_cert_chain(str(p.server_crt), str(p.server_key))
