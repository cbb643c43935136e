"""``additionalPrinterColumns``: the Table of a custom kind (apiextensions-apiserver's tableconvertor).

``kubectl get`` prints what the server's Table says. For a custom kind the columns are ``Name``
then the version's ``additionalPrinterColumns`` (``Age`` from ``.metadata.creationTimestamp``
when the CRD names none), each cell the *first* value its ``jsonPath`` finds (as
kube-apiserver: ``.items[*].name`` shows the first name), converted to the column's type:
``integer`` / ``number`` / ``boolean`` / ``string`` as JSON, ``date`` as an age
(``HumanDuration``, ``<invalid>`` for a string that is not a time). A cell with no value is
``null``, which kubectl prints as ``<none>``. ``priority`` is carried to the column definition;
kubectl shows priority > 0 columns only with ``-o wide``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..api.tables import human_duration, parse_time
from . import jsonpath

Obj = dict[str, Any]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")
DEFAULT_COLUMNS = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                    "description": AGE_DESCRIPTION}]


def columns_for(version: Obj) -> list[Obj]:
    """The version's printer columns, or the default ``Age``."""
    return list(version.get("additionalPrinterColumns") or DEFAULT_COLUMNS)


def column_definitions(columns: list[Obj]) -> list[Obj]:
    defs = [{"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0}]
    for col in columns:
        defs.append({
            "name": col.get("name", ""),
            "type": col.get("type", "string"),
            "format": col.get("format", ""),
            "description": col.get("description")
            or f"Custom resource definition column (in JSONPath format): {col.get('jsonPath', '')}",
            "priority": int(col.get("priority") or 0),
        })
    return defs


def _cell(ctype: str, value: Any, now: datetime) -> Any:
    if value is None:
        return None
    if ctype == "integer":
        if isinstance(value, bool):
            return None
        return int(value) if isinstance(value, (int, float)) else None
    if ctype == "number":
        if isinstance(value, bool):
            return None
        return float(value) if isinstance(value, (int, float)) else None
    if ctype == "boolean":
        return value if isinstance(value, bool) else None
    if ctype == "date":
        if not isinstance(value, str):
            return None
        t = parse_time(value)
        if t is None:
            return "<invalid>"
        return human_duration((now - t).total_seconds())
    return jsonpath.text(value)


def cells(obj: Obj, columns: list[Obj], *, now: datetime | None = None) -> list[Any]:
    """One row's cells: the name, then each column's value."""
    now = now or datetime.now(UTC)
    out: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
    for col in columns:
        try:
            found = jsonpath.find(obj, col.get("jsonPath") or "")
        except jsonpath.JSONPathError:
            found = []
        out.append(_cell(col.get("type", "string"), found[0], now) if found else None)
    return out
