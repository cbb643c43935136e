"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl prints the familiar columns (``READY STATUS RESTARTS AGE``) only because kube-apiserver
computes them; without a Table it falls back to ``NAME AGE``. This module is the generic part
(Kubernetes' ``TableConvertor`` and the helpers of ``pkg/printers``): column definitions, the
``HumanDuration`` of ages, and ``to_table``. Each kind declares its own columns and cells in its
module (``Kind.columns`` / ``Kind.cells``, see ``api/kind.py``). Like the real server, every row
carries all cells (priority-1 columns included); kubectl shows the priority-1 ones only with
``-o wide``. A leaf module: it imports nothing of the project but api/times.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from .times import parse_time

Obj = dict[str, Any]
Cells = Callable[[Obj, datetime], list[Any]]
RowConditions = Callable[[Obj], list[Obj]]

NAME_DESCRIPTION = ("Name must be unique within a namespace. Is required when creating resources, although some "
                    "resources may allow a client to request the generation of an appropriate name automatically. "
                    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
                    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESCRIPTION = ("CreationTimestamp is a timestamp representing the server time when this object was created. "
                   "It is not guaranteed to be set in happens-before order across separate operations. Clients "
                   "may not set this value. It is represented in RFC3339 form and is in UTC.")


def column(name: str, description: str, *, priority: int = 0, fmt: str = "", type_: str = "string") -> dict[str, Any]:
    """One ``TableColumnDefinition``."""
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


NAME_COLUMN = column("Name", NAME_DESCRIPTION, fmt="name")
AGE_COLUMN = column("Age", AGE_DESCRIPTION)
DEFAULT_COLUMNS = (NAME_COLUMN, AGE_COLUMN)
#: the wide columns of the kinds with a pod template (Deployment ... CronJob), as kube's printers
CONTAINERS_COLUMN = column("Containers", "Names of each container in the template.", priority=1)
IMAGES_COLUMN = column("Images", "Images referenced by each container in the template.", priority=1)


# --- time ------------------------------------------------------------------------------------

def human_duration(seconds: float) -> str:
    """A duration as Kubernetes prints ages: "87s", "2m21s", "12m", "5h3m", "30h", "5d3h", "45d", "2y3d"."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: datetime) -> str:
    """Kubernetes' translateTimestampSince: "<unknown>" for no timestamp."""
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def name(obj: Obj) -> str:
    """The NAME cell."""
    return (obj.get("metadata") or {}).get("name") or ""


def age(obj: Obj, now: datetime) -> str:
    """The AGE cell."""
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def default_cells(obj: Obj, now: datetime) -> list[Any]:
    """NAME and AGE: the row of a kind that declares no columns."""
    return [name(obj), age(obj, now)]


def format_selector(selector: dict[str, str] | None) -> str:
    """A map selector as kubectl prints it: ``app=web,tier=front`` or ``<none>``."""
    if not selector:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


# --- the Table -------------------------------------------------------------------------------

def _row_object(obj: Obj, include_object: str) -> Obj | None:
    if include_object == "Object":
        return obj
    if include_object == "None":
        return None
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def to_table(columns: Sequence[dict[str, Any]], cells: Cells, objs: list[Obj], *,
             row_conditions: RowConditions | None = None, include_object: str = "Metadata",
             resource_version: str = "", now: datetime | None = None) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objs`` as kube-apiserver answers ``kubectl get``.

    ``include_object``: "Metadata" (PartialObjectMetadata per row, the default), "Object" (the
    whole object, sent by ``--sort-by``) or "None". ``register.to_table`` calls this with the
    kind's columns and cells.
    """
    now = now or datetime.now(UTC)
    rows = []
    for obj in objs:
        row: Obj = {"cells": cells(obj, now)}
        if row_conditions is not None:
            conditions = row_conditions(obj)
            if conditions:
                row["conditions"] = conditions
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    metadata: Obj = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [dict(c) for c in columns],
        "rows": rows,
    }
