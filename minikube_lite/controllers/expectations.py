"""Controller expectations, as Kubernetes' ``ControllerExpectations``.

A ReplicaSet controller that has just asked for 3 pods must not, on its next pass, see only the
pods its informer already knows and ask for 3 more. Before creating or deleting it records how
many creations and which deletions it expects; the pod informer's events lower those counts;
until they reach zero (or the record is older than five minutes, in case an event was lost)
the controller refrains from creating or deleting again. Status is still recomputed meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

TTL = 300.0


@dataclass
class _Record:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    stamp: float = field(default_factory=time.monotonic)


class Expectations:
    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}

    def satisfied(self, key: str) -> bool:
        rec = self._records.get(key)
        if rec is None:
            return True
        if rec.adds <= 0 and not rec.deletes:
            return True
        return time.monotonic() - rec.stamp > TTL

    def expect_creations(self, key: str, n: int) -> None:
        self._records[key] = _Record(adds=n)

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._records[key] = _Record(deletes=set(pod_keys))

    def creation_observed(self, key: str) -> None:
        rec = self._records.get(key)
        if rec is not None and rec.adds > 0:
            rec.adds -= 1

    def lower_creations(self, key: str, n: int) -> None:
        """Creations that will never be observed (the create failed or was skipped)."""
        rec = self._records.get(key)
        if rec is not None:
            rec.adds = max(0, rec.adds - n)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.deletes.discard(pod_key)

    def forget(self, key: str) -> None:
        self._records.pop(key, None)
