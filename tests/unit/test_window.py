"""The watch history's size (store/window.py), as kube-apiserver's watch cache sizes its ring: at
least 75 s of events, never fewer than the last 100 whatever their age, expired by a timer as
well as by writes (a burst of writes does not stay in memory once it is past the history)."""

from __future__ import annotations

import asyncio
import json

import pytest

from minikube_lite.store import window as window_mod
from minikube_lite.store.base import Compacted, Event
from minikube_lite.store.window import HISTORY_SECONDS, MIN_EVENTS, EventWindow


def _put(w: EventWindow, rev: int) -> None:
    w.publish(Event("PUT", f"/registry/core/configmaps/default/c{rev}", {"n": rev}, rev, None),
              f'{{"n": {rev}}}', None)


def test_defaults_are_the_watch_caches() -> None:
    """DefaultEventFreshDuration (request timeout 60 s + 15 s) and the ring's lower bound."""
    assert (HISTORY_SECONDS, MIN_EVENTS) == (75.0, 100)


def test_old_events_expire_but_the_last_ones_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(window_mod.time, "monotonic", lambda: now[0])
    w = EventWindow(1, window=50, window_seconds=10, min_events=3)
    for rev in range(2, 12):  # 10 events, young: all kept
        _put(w, rev)
    assert len(list(w)) == 10
    w.watch("/registry/", 1)  # from the start: served
    now[0] += 60  # they are past the history now; the next write expires them but the floor stays
    _put(w, 12)
    assert [k.rev for k in w] == [10, 11, 12]
    with pytest.raises(Compacted, match="too old resource version"):
        w.watch("/registry/", 8)
    w.watch("/registry/", 9)  # the revision of the last one dropped: everything after it is kept
    for rev in range(13, 70):  # the size cap holds whatever the age
        _put(w, rev)
    assert len(list(w)) == 50


def test_a_timer_expires_the_history_without_a_write() -> None:
    async def main() -> list[int]:
        w = EventWindow(1, window_seconds=0.2, min_events=2)
        for rev in range(2, 30):
            _put(w, rev)
        assert len(list(w)) == 28
        await asyncio.sleep(1.5)  # the sweep runs at most once a second
        kept = [k.rev for k in w]
        w.close()
        return kept

    assert asyncio.run(main()) == [28, 29]


def test_no_loop_no_timer_writes_still_expire() -> None:
    """Used without an event loop (a script on the store), writes alone expire events."""
    w = EventWindow(1, window_seconds=0.0, min_events=1)
    for rev in range(2, 6):
        _put(w, rev)
    assert [k.rev for k in w] == [5] and w.oldest == 4


def _fresh(text: str) -> str:
    """Equal text in another string (as read back from the store)."""
    again = json.dumps(json.loads(text))
    assert again == text and again is not text
    return again


def test_an_update_or_delete_shares_the_text_of_the_write_before() -> None:
    """The value before a write is kept once, not twice, while the write that made it is kept."""
    w = EventWindow(1)
    key = "/registry/core/configmaps/default/c"
    created = '{"data": {"n": "1"}}'
    w.publish(Event("PUT", key, {}, 2, None), created, None)
    w.publish(Event("PUT", key, {}, 3, {}), '{"data": {"n": "2"}}', _fresh(created), 2)
    updated_text = _fresh('{"data": {"n": "2"}}')
    w.publish(Event("DELETE", key, {}, 4, {}), updated_text, updated_text, 3)
    create, update, delete = list(w)
    assert update.prev is create.value and delete.prev is update.value and delete.value is update.value
    assert [k.event().prev for k in (update, delete)] == [{"data": {"n": "1"}}, {"data": {"n": "2"}}]
    w.publish(Event("PUT", key, {}, 5, None), created, None)  # created again: nothing before it
    assert list(w)[-1].prev is None
