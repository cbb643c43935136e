"""A watch as kube-apiserver streams it: JSON lines of ADDED/MODIFIED/DELETED, bookmarks, ERROR.

The registry's event iterator (``Registry.watch``, fed by the store's watch window) is pumped
into a queue; events already queued go out in one chunk; one timer at a time wakes the loop for
the next bookmark or the deadline (``timeoutSeconds``). A 410 is, as with kube-apiserver's
watch cache, a 200 stream holding one ERROR event; ``sendInitialEvents`` ends with a bookmark
annotated ``k8s.io/initial-events-end``. Tables (``kubectl get -w``) carry their columns once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.responses import StreamingResponse

from minikube_lite.api import register
from minikube_lite.api.errors import ApiError, Gone
from minikube_lite.api.resources import Resource

from .registry import Registry


async def serve(registry: Registry, res: Resource, namespace: str | None, q: Mapping[str, str], *,
                timeout: int, bookmarks: bool, as_table: bool, send_initial: bool | None,
                bookmark_interval: float) -> StreamingResponse:
    """The streaming response of ``GET <collection>?watch=1`` (``q``: the query parameters)."""
    include = q.get("includeObject", "Metadata")
    rv = q.get("resourceVersion")
    registry.check_read_version(rv, q.get("resourceVersionMatch"), watch=True,
                                send_initial_events=send_initial is not None)
    try:
        events = await registry.watch(res, namespace, resource_version=rv,
                                      label_selector=q.get("labelSelector"),
                                      field_selector=q.get("fieldSelector"), send_initial_events=send_initial,
                                      shared=True)
    except Gone as exc:  # as kube-apiserver's watch cache: a 200 stream holding one 410 ERROR event
        gone = (json.dumps({"type": "ERROR", "object": exc.status()}) + "\n").encode()
        return StreamingResponse(iter([gone]), media_type="application/json")
    interval = bookmark_interval

    def bookmark(rv: str, annotations: dict[str, str] | None = None) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": rv}
        if annotations:
            meta["annotations"] = annotations
        obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
        return (json.dumps({"type": "BOOKMARK", "object": obj}) + "\n").encode()

    async def stream() -> AsyncIterator[bytes]:
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for ev in events:
                    queue.put_nowait(ev)
            except ApiError as exc:  # e.g. 410 Expired mid-stream: an ERROR event, then the end
                queue.put_nowait(("ERROR", exc.status()))
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(pump())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + interval
        first = True
        last_rv = rv or "0"

        def progress() -> str | None:
            # Every write up to the store's revision has reached this watcher once both queues
            # are drained (one event loop does all writes and fan-out), so that revision is safe.
            return str(registry.store.revision) if queue.empty() else None

        # One timer at a time wakes the loop for the next bookmark or the deadline (a TICK in the
        # queue): waiting with asyncio.wait_for would create a task and a timer per event, per
        # watcher, which is most of what many watchers cost the writers.
        tick: tuple[str, Any] = ("TICK", None)
        timer: asyncio.TimerHandle | None = None

        def arm() -> None:
            nonlocal timer
            if timer is None:
                timer = loop.call_at(min(deadline, next_bookmark) if bookmarks else deadline,
                                     queue.put_nowait, tick)

        try:
            while True:
                now = loop.time()
                if now >= deadline:
                    await asyncio.sleep(0)
                    if bookmarks and (at := progress()):
                        yield bookmark(at)  # a last bookmark so the client resumes from here
                    return
                if bookmarks and now >= next_bookmark:
                    next_bookmark = now + interval
                    await asyncio.sleep(0)
                    if at := progress():
                        yield bookmark(at)
                arm()
                item = await queue.get()
                if item is tick:
                    timer = None
                    continue
                # Whatever else is already queued goes out in the same chunk: one write for a
                # burst instead of one per event keeps many watchers cheap for the writers.
                batch: list[bytes] = []
                while item is not None:
                    etype, obj = item
                    if etype == "BOOKMARK":  # the end of sendInitialEvents
                        last_rv = obj["metadata"]["resourceVersion"]
                        if bookmarks:
                            batch.append(bookmark(last_rv, obj["metadata"].get("annotations")))
                    elif etype == "ERROR":
                        batch.append((json.dumps({"type": etype, "object": obj}) + "\n").encode())
                    elif as_table:
                        last_rv = obj.obj["metadata"].get("resourceVersion", last_rv)
                        table = register.to_table(res, [obj.obj], include_object=include,
                                                resource_version=last_rv)
                        if not first:
                            table["columnDefinitions"] = []
                        first = False
                        batch.append((json.dumps({"type": etype, "object": table}) + "\n").encode())
                    else:
                        last_rv = obj.obj["metadata"].get("resourceVersion", last_rv)
                        batch.append(obj.watch_line(etype))
                    if len(batch) >= 256 or queue.empty():
                        break
                    item = queue.get_nowait()
                    if item is tick:
                        timer = None
                        break
                if batch:
                    yield b"".join(batch)
                if item is None:
                    return
        finally:
            if timer is not None:
                timer.cancel()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            with contextlib.suppress(BaseException):
                await events.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(stream(), media_type="application/json",
                             headers={"Cache-Control": "no-cache, private"})
