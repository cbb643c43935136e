"""ServiceAccount tokens: bound JWTs as kube-apiserver's TokenRequest issues them (PyJWT, ES256).

A token names its ServiceAccount (``sub: system:serviceaccount:<ns>:<name>``) and, when bound,
the pod it was made for, under the ``kubernetes.io`` claim; it is signed with the cluster's
ServiceAccount key (``certs/sa.key``) and carries minikube's issuer and audience
(``https://kubernetes.default.svc.cluster.local``). Verifying one checks the signature, the
expiry, the audience, and that the ServiceAccount (and the pod it is bound to) still exist with
the same uid: deleting either revokes the token, as in Kubernetes.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .rbac import UserInfo

ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDIENCE = ISSUER
ALGORITHM = "ES256"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
# A pod's projected token lives an hour; the kubelet refreshes it at 80 % of its life.
Lookup = Callable[[str, str, str], dict[str, Any] | None]  # (resource, namespace, name) -> object


def _kid(public_pem: bytes) -> str:
    return hashlib.sha256(public_pem).hexdigest()[:43]


class Issuer:
    def __init__(self, key_path: Path, pub_path: Path) -> None:
        self._key_pem = key_path.read_bytes()
        self._pub_pem = pub_path.read_bytes()
        self.kid = _kid(self._pub_pem)

    def issue(self, namespace: str, sa_name: str, sa_uid: str, *, expiration_seconds: int = DEFAULT_EXPIRATION,
              audiences: list[str] | None = None, pod: tuple[str, str] | None = None,
              node: tuple[str, str] | None = None) -> tuple[str, int]:
        """A signed token and its expiry (unix time)."""
        import jwt

        now = int(time.time())
        exp = now + max(expiration_seconds, MIN_EXPIRATION)
        k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": sa_name, "uid": sa_uid}}
        if pod:
            k8s["pod"] = {"name": pod[0], "uid": pod[1]}
            k8s["warnafter"] = now + int((exp - now) * 0.8)
        if node:
            k8s["node"] = {"name": node[0], "uid": node[1]}
        claims = {"aud": audiences or [AUDIENCE], "exp": exp, "iat": now, "nbf": now, "iss": ISSUER,
                  "jti": str(uuid.uuid4()), "kubernetes.io": k8s,
                  "sub": f"system:serviceaccount:{namespace}:{sa_name}"}
        return jwt.encode(claims, self._key_pem, algorithm=ALGORITHM, headers={"kid": self.kid}), exp


class Verifier:
    """Checks a bearer token that looks like a JWT; None when it is not a valid one."""

    def __init__(self, pub_path: Path, lookup: Lookup | None = None) -> None:
        self._pub_pem = pub_path.read_bytes()
        self.lookup = lookup
        self._cache: dict[str, tuple[UserInfo, float, tuple[str, str, str, str, str]]] = {}

    def verify(self, token: str) -> UserInfo | None:
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None:
            user, exp, refs = hit
            if exp > now and self._still_bound(*refs):
                return user
            self._cache.pop(token, None)
            return None
        import jwt

        try:
            claims = jwt.decode(token, self._pub_pem, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                                options={"require": ["exp", "sub"]})
        except jwt.PyJWTError:
            return None
        k8s = claims.get("kubernetes.io") or {}
        ns = k8s.get("namespace", "")
        sa = k8s.get("serviceaccount") or {}
        pod = k8s.get("pod") or {}
        if not ns or not sa.get("name") or claims.get("sub") != f"system:serviceaccount:{ns}:{sa['name']}":
            return None
        refs = (ns, sa["name"], sa.get("uid", ""), pod.get("name", ""), pod.get("uid", ""))
        if not self._still_bound(*refs):
            return None
        extra: list[tuple[str, tuple[str, ...]]] = [("authentication.kubernetes.io/credential-id",
                                                      (f"JTI={claims.get('jti', '')}",))]
        if pod:
            extra += [("authentication.kubernetes.io/pod-name", (pod.get("name", ""),)),
                      ("authentication.kubernetes.io/pod-uid", (pod.get("uid", ""),))]
        node = k8s.get("node") or {}
        if node:
            extra += [("authentication.kubernetes.io/node-name", (node.get("name", ""),)),
                      ("authentication.kubernetes.io/node-uid", (node.get("uid", ""),))]
        user = UserInfo(claims["sub"], sa.get("uid", ""),
                        ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"),
                        tuple(sorted(extra)))
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[token] = (user, float(claims["exp"]), refs)
        return user

    def _still_bound(self, ns: str, sa_name: str, sa_uid: str, pod_name: str, pod_uid: str) -> bool:
        if self.lookup is None:
            return True
        sa = self.lookup("serviceaccounts", ns, sa_name)
        if sa is None or (sa_uid and sa["metadata"].get("uid") != sa_uid):
            return False
        if pod_name:
            pod = self.lookup("pods", ns, pod_name)
            if pod is None or (pod_uid and pod["metadata"].get("uid") != pod_uid):
                return False
        return True
