"""The kubelet counts a container OOM-killed when Docker's "oom" event named it, even where the
inspect's State.OOMKilled says false (a decision of kubelet/runtime.py; no engine needed)."""

from __future__ import annotations

from typing import Any

from minikube_lite.config import CLUSTER_LABEL
from minikube_lite.kubelet.runtime import Runtime


class _Api:
    def inspect_container(self, cid: str) -> dict[str, Any]:
        return {"Id": cid, "Name": "/c", "Config": {"Labels": {CLUSTER_LABEL: "c1"}, "Image": "i"},
                "State": {"Status": "exited", "ExitCode": 137, "OOMKilled": False}}


class _Docker:
    api = _Api()


def test_an_oom_event_makes_the_exit_an_oom_kill_until_the_container_is_removed() -> None:
    rt = Runtime(cluster_id="c1", network_name="n", docker_client=_Docker())  # type: ignore[arg-type]
    assert rt.inspect("a").oom_killed is False
    rt.note_event("a", "die")
    assert rt.inspect("a").oom_killed is False
    rt.note_event("a", "oom")
    assert rt.inspect("a").oom_killed is True
    assert rt.inspect("b").oom_killed is False  # only the container the event named
    rt.note_event("a", "destroy")
    assert rt.inspect("a").oom_killed is False
