"""The register of kinds: the one place that says which kinds this API server serves.

Kubernetes has a scheme (``runtime.Scheme``) and a REST storage per resource installed into the
API server at start; CustomResourceDefinitions add and remove resources while it runs. Here the
built-in kinds are declared in their modules (``Kind`` values, ``api/kind.py``) and registered
below, in the order discovery lists them; ``register`` / ``unregister`` change the set at run
time and bump ``revision()``, which the discovery, OpenAPI and routing caches compare against.
Routing, the generic registry (``apiserver/registry.py``), Tables, discovery, OpenAPI, patch and
apply all read the kinds from here and nowhere else.

The functions at the bottom are the generic steps the registry runs for any kind: decode and
validate (``validate``), the update rules (``validate_update``), defaults, the Table.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from minikube_lite.api import (
    apiextensions,
    apiregistration,
    apps,
    autoscaling,
    certificates,
    config,
    coordination,
    core,
    cronjob,
    daemonset,
    endpoints,
    errors,
    job,
    metrics,
    networking,
    pods,
    policy,
    rbac,
    replicationcontroller,
    serviceaccounts,
    services,
    statefulset,
    storage,
    tables,
)
from minikube_lite.api.kind import Kind
from minikube_lite.api.models import AnyObject
from minikube_lite.api.resources import Resource
from minikube_lite.api.validation import ErrorList, decode, name_of, validate_meta

Obj = dict[str, Any]

#: The built-in kinds, in the order kube-apiserver's discovery lists them here.
BUILTIN: tuple[Kind, ...] = (
    core.NAMESPACE, core.NODE, pods.POD, *replicationcontroller.KINDS, services.SERVICE, core.EVENT,
    *apiextensions.KINDS, statefulset.CONTROLLERREVISION, *daemonset.KINDS, *apps.KINDS, statefulset.STATEFULSET, *autoscaling.KINDS,
    *cronjob.KINDS, *job.KINDS,
    *config.KINDS, *endpoints.KINDS, *storage.KINDS, *networking.KINDS, *coordination.KINDS,
    *policy.KINDS, *certificates.KINDS, *serviceaccounts.KINDS, *rbac.KINDS, *apiregistration.KINDS, *metrics.KINDS,
)

_lock = threading.Lock()
_kinds: dict[tuple[str, str, str], Kind] = {}  # (group, version, plural) -> Kind, in registration order
_revision = 0


def register(kind: Kind, *, replace: bool = False) -> None:
    """Serve ``kind`` from now on (discovery, REST, Tables, watch, OpenAPI).

    A kind already registered under the same group, version and plural is an error unless
    ``replace`` (a CRD's update re-registers its kinds)."""
    global _revision
    r = kind.resource
    key = (r.group, r.version, r.plural)
    with _lock:
        if key in _kinds and not replace:
            raise ValueError(f"{r.plural}.{r.group or 'core'}/{r.version} is already registered")
        _kinds[key] = kind
        _revision += 1


def unregister(group: str, version: str, plural: str) -> Kind | None:
    """Stop serving a kind (its stored objects are the caller's business); the removed Kind or None."""
    global _revision
    with _lock:
        kind = _kinds.pop((group, version, plural), None)
        if kind is not None:
            _revision += 1
        return kind


def revision() -> int:
    """A counter bumped by every register/unregister: caches of derived documents key on it."""
    return _revision


def kinds() -> list[Kind]:
    return list(_kinds.values())


def resources() -> list[Resource]:
    """Every served resource, in registration order."""
    return [k.resource for k in _kinds.values()]


def kind_for(res: Resource) -> Kind:
    """The declaration of a served resource (a bare ``Kind(res)`` for one no longer registered)."""
    kind = _kinds.get((res.group, res.version, res.plural))
    return kind if kind is not None else Kind(res)


def by_plural(plural: str, group: str | None = None, version: str | None = None) -> Resource | None:
    """A resource by its plural name (and group / version when given; otherwise the first match)."""
    for (g, v, p), kind in list(_kinds.items()):
        if p == plural and (group is None or g == group) and (version is None or v == version):
            return kind.resource
    return None


def by_kind(api_version: str, kind: str) -> Resource | None:
    """A resource by ``apiVersion`` and ``kind`` as written in a manifest."""
    group, _, version = api_version.rpartition("/")
    for k in list(_kinds.values()):
        r = k.resource
        if r.group == group and r.version == version and r.kind == kind:
            return r
    return None


def kind_named(name: str) -> Kind | None:
    """The first registered kind called ``name`` (any group; case-insensitive as a fallback)."""
    every = list(_kinds.values())
    for k in every:
        if k.resource.kind == name:
            return k
    lowered = name.lower()
    for k in every:
        if k.resource.kind.lower() == lowered:
            return k
    return None


def groups() -> dict[str, list[str]]:
    """group name -> served versions (core group is "")."""
    out: dict[str, list[str]] = {}
    for g, v, _ in list(_kinds):
        versions = out.setdefault(g, [])
        if v not in versions:
            versions.append(v)
    return out


# --- the generic steps ------------------------------------------------------------------------

def validate(res: Resource, obj: Obj, *, field_validation: str = "Strict") -> tuple[Obj, list[str]]:
    """Check a manifest (already parsed) as the API server does on create and update.

    Returns ``(cleaned object, warnings)``: the user's object untouched except for unknown fields
    dropped under ``Warn``/``Ignore``. Raises ``errors.BadRequest`` for unknown fields under
    ``Strict`` (Kubernetes' ``strict decoding error: unknown field "spec.contianers"``) and
    ``errors.Invalid`` (422) with one cause per bad field otherwise.
    """
    kind = kind_for(res)
    if kind.decode is not None:
        cleaned, warnings = kind.decode(obj, field_validation)
    else:
        cleaned, warnings = decode(res, kind.model or AnyObject, obj, field_validation)
    errs = ErrorList()
    validate_meta(errs, res, cleaned.get("metadata"), kind.name_rule)
    if kind.validate is not None:
        kind.validate(errs, cleaned)
    if errs.causes:
        raise errors.Invalid(res.kind, name_of(cleaned), errs.causes, res.group)
    return cleaned, warnings


def validate_update(res: Resource, old: Obj, new: Obj) -> None:
    """The immutability rules of an update (``new`` is already validated with ``validate``)."""
    rule = kind_for(res).validate_update
    if rule is None:
        return
    errs = ErrorList()
    rule(errs, old, new)
    if errs.causes:
        raise errors.Invalid(res.kind, name_of(new) or name_of(old), errs.causes, res.group)


def apply_defaults(res: Resource, obj: Obj) -> None:
    """Fill in, in place, what Kubernetes' defaulting fills in for an object of ``res``."""
    rule = kind_for(res).default
    if rule is not None:
        rule(obj)


def to_table(res: Resource, objs: list[Obj], *, include_object: str = "Metadata", resource_version: str = "",
             now: datetime | None = None) -> Obj:
    """The ``meta.k8s.io/v1`` Table of ``objs`` with the kind's columns (``kubectl get``)."""
    kind = kind_for(res)
    return tables.to_table(kind.columns, kind.cells, objs, row_conditions=kind.row_conditions,
                           include_object=include_object, resource_version=resource_version, now=now)


def warm_up() -> None:
    """Compile every model's validator now (the daemon calls this once it is serving)."""
    for kind in kinds():
        if kind.model is not None:
            kind.model.model_rebuild()


for _kind in BUILTIN:
    register(_kind)
