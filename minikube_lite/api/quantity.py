"""resource.Quantity (k8s.io/apimachinery/pkg/api/resource): the grammar and its value as a number.

Kept apart from the pydantic models and the validation helpers because the node agent (the
kubelet, node/agent.py) parses quantities too (requests, limits, ``emptyDir.sizeLimit``) and
must not import the API server's kinds to do it (issue 14: the agent's memory). ``decimal`` is
imported at the first quantity, not with the module: its C library is ~0.4 MB of an idle node
agent's RSS, and a node without pods has no quantity to parse.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decimal import Decimal

QUANTITY_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")


@functools.cache
def _suffixes() -> dict[str, Decimal]:
    from decimal import Decimal

    return {
        "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal(10) ** 3,
        "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15,
        "E": Decimal(10) ** 18, "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
        "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
    }


def parse_quantity(value: float | str) -> Decimal:
    """A Kubernetes resource quantity ("100m", "128Mi", "1e3", 0.5) as a number; ValueError if malformed."""
    from decimal import Decimal

    if isinstance(value, bool):
        raise TypeError("not a quantity")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    m = QUANTITY_RE.match(value)
    if not m:
        raise ValueError("not a quantity")
    number, suffix = m.group(1), m.group(2) or ""
    sign = -1 if value.startswith("-") else 1
    if suffix[:1] in ("e", "E"):
        return sign * Decimal(number) * Decimal(10) ** int(suffix[1:])
    return sign * Decimal(number) * _suffixes()[suffix]
