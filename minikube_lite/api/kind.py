"""What one kind declares: its name on the wire, schema, defaults, validation, Table and the
strategy the generic registry asks.

Kubernetes spreads a kind over its Go types (``k8s.io/api``), its validation and defaults
(``pkg/apis/<group>``), its printer (``pkg/printers``) and its REST strategy
(``pkg/registry/<group>/<kind>/strategy.go``: PrepareForCreate, PrepareForUpdate,
CheckGracefulDelete ...). Here a kind is one ``Kind`` value in one module (``api/apps.py``
declares Deployment and ReplicaSet, ``api/pods.py`` the Pod ...), registered in one place
(``api/register.py``); everything that serves kinds reads the register, so a kind added at run
time (a CustomResourceDefinition) is served by the same code as a built-in one.

``Strategy`` holds the hooks whose default is what most kinds want; a kind overrides only what
differs (a Pod deletes gracefully, a Service allocates cluster IPs, an Ingress gets the default
class). A leaf module: it imports only the helper leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from minikube_lite.api import mergekeys, tables
from minikube_lite.api.resources import Resource
from minikube_lite.api.validation import ErrorList, NameRule, is_dns1123_subdomain

if TYPE_CHECKING:
    from pydantic import BaseModel

Obj = dict[str, Any]
Validator = Callable[[ErrorList, Obj], None]
UpdateValidator = Callable[[ErrorList, Obj, Obj], None]
Defaulter = Callable[[Obj], None]
Decoder = Callable[[Obj, str], tuple[Obj, list[str]]]


class StoreView(Protocol):
    """What a strategy may read of the cluster while it admits a write (the registry passes itself)."""

    def list_all(self, plural: str, group: str = "") -> list[Obj]:
        """Every stored object of a kind, in all namespaces (plain dicts, not to be changed)."""
        ...


class DeleteOps(Protocol):
    """What a strategy that takes over ``delete`` may do with the stored object."""

    def remove(self) -> None:
        """Delete the object from the store now."""
        ...

    def mark(self, obj: Obj) -> Obj:
        """Write ``obj`` (the object marked for deletion) and return it with its resourceVersion."""
        ...


class Strategy:
    """The hooks of the generic registry (``apiserver/registry.py``), called in this order.

    create: decode+validate -> defaults -> ``prepare_create`` -> uid/timestamps/managedFields ->
    ``begin_create`` -> store.
    update: decode+validate -> defaults -> status kept (kinds with a status subresource) ->
    validate_update -> ``prepare_update`` -> ``begin_update`` -> generation -> store.
    status update: old object with the status fields (``Kind.status_fields``) of the request.
    delete: ``delete`` (None: the generic path: finalizers, ``grace_period``) -> store.
    """

    #: Whether deleting marks the object and lets a component finish it (CheckGracefulDelete):
    #: a Pod on a node waits for its kubelet. The registry then honours ``grace_period``.
    graceful: bool = False

    #: The store key of the kind's allocator (a Service's cluster IPs and nodePorts), or None.
    #: Each create/update of such a kind is one store transaction with a write of this key,
    #: conditional on the revision the key had before ``begin_create``/``begin_update`` read what
    #: they allocate from: two API servers cannot commit the same allocation, the loser allocates
    #: again (kube-apiserver's RangeAllocation object, updated on its resourceVersion).
    allocator: str | None = None
    allocator_value: dict[str, Any] = {}  # noqa: RUF012 - the value written there (read-only)

    def prepare_create(self, obj: Obj, store: StoreView) -> None:
        """PrepareForCreate and create-time admission: reset status, add finalizers, defaults
        that need other objects (the default IngressClass)."""

    def begin_create(self, obj: Obj, store: StoreView) -> None:
        """Just before the object is stored (after managedFields): allocation (cluster IPs)."""

    def prepare_update(self, new: Obj, old: Obj, store: StoreView) -> None:
        """PrepareForUpdate of a main-resource write, after validation."""

    def begin_update(self, new: Obj, old: Obj, store: StoreView) -> None:
        """Just before an update is stored: allocation."""

    def update_subresource(self, subresource: str, old: Obj, obj: Obj) -> Obj | None:
        """A write to a subresource other than ``status`` (a Namespace's ``finalize``): the new
        object, or None when this kind has no such writable subresource."""
        return None

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds a delete of ``obj`` waits (only asked when ``graceful``); 0 deletes at once."""
        return 0

    def may_vanish(self, obj: Obj) -> bool:
        """Whether ``obj``, marked for deletion with no finalizers left, is deleted for good now."""
        return True

    def delete(self, obj: Obj, ops: DeleteOps, *, dry_run: bool) -> tuple[Obj, bool] | None:
        """Take over DELETE (a Namespace only marks itself Terminating): (object, finished), or
        None for the generic path."""
        return None

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        """Whether an update is a new ``metadata.generation``: a change of ``spec`` for most kinds
        (a custom kind counts every field but metadata, and status when it has the subresource)."""
        return "spec" in new and new.get("spec") != old.get("spec")

    def to_scale(self, obj: Obj) -> Obj | None:
        """The ``autoscaling/v1`` Scale of ``obj`` (kinds with the ``scale`` subresource); None:
        the built-in view (``spec.replicas``, ``status.replicas``, ``spec.selector`` as a string)."""
        return None

    def with_replicas(self, obj: Obj, replicas: int) -> Obj | None:
        """``obj`` (a copy of the stored object) with the replicas a Scale write asks for; None:
        ``spec.replicas`` is set."""
        return None


DEFAULT_STRATEGY = Strategy()


@dataclass(frozen=True, eq=False)
class Kind:
    """Everything about one kind. Only ``resource`` is required; the rest defaults to what a
    kind without rules gets (any object under a valid ObjectMeta, NAME/AGE columns)."""

    resource: Resource
    #: pydantic model checked on decode (unknown fields, types); None: only ObjectMeta is checked
    model: type[BaseModel] | None = None
    #: the kind's semantic rules on create and update: ``validate(errs, obj)``
    validate: Validator | None = None
    #: immutability rules of an update: ``validate_update(errs, old, new)``
    validate_update: UpdateValidator | None = None
    #: Kubernetes' defaulting, in place, never overwriting what the user wrote
    default: Defaulter | None = None
    #: how metadata.name is checked (DNS-1123 subdomain unless the kind says otherwise)
    name_rule: NameRule = is_dns1123_subdomain
    #: Table columns and the cells of one row (``kubectl get``)
    columns: Sequence[Obj] = tables.DEFAULT_COLUMNS
    cells: tables.Cells = tables.default_cells
    row_conditions: tables.RowConditions | None = None
    #: dotted list path -> merge key (``mergekeys``); ObjectMeta's lists at least
    merge_keys: Mapping[str, str] = field(default_factory=lambda: dict(mergekeys.OBJECT_META))
    #: top-level fields a write to ``/status`` may change
    status_fields: tuple[str, ...] = ("status",)
    strategy: Strategy = DEFAULT_STRATEGY
    #: decoding that replaces the model's (a custom kind prunes and defaults from its schema):
    #: ``decode(obj, field_validation) -> (cleaned copy, warnings)``
    decode: Decoder | None = None
    #: whether PATCH accepts a strategic merge patch (not for custom kinds, as Kubernetes)
    strategic_merge: bool = True
    #: the kind's published OpenAPI schemas (v3 references), ``{definition name: schema}``, with
    #: the kind's own under ``definition_name``; None: the API server's own description
    openapi: Callable[[], dict[str, Obj]] | None = None
    definition_name: str | None = None
    #: an object as served in this kind's version (a custom kind stored in another version of the
    #: same CRD gets this version's ``apiVersion``); None: objects are served as stored
    convert: Callable[[Obj], Obj] | None = None

    @property
    def status_subresource(self) -> bool:
        """Whether ``status`` is written only through ``/status`` (main-resource writes keep it)."""
        return "status" in self.resource.subresources
