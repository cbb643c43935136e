"""pods/ephemeralcontainers (api/ephemeral.py): add-only, forbidden fields, the rest kept."""

from __future__ import annotations

import copy

import pytest

from minikube_lite.api import ephemeral
from minikube_lite.api.errors import Invalid
from minikube_lite.api.pods import RESOURCE as PODS

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"containers": [{"name": "web", "image": "busybox"}]}, "status": {"phase": "Running"}}


def debugger(name: str = "dbg", **extra: object) -> dict:
    return {"name": name, "image": "busybox", "stdin": True, "targetContainerName": "web", **extra}


def test_adds_a_container_and_keeps_the_rest() -> None:
    asked = copy.deepcopy(POD)
    asked["spec"]["ephemeralContainers"] = [debugger()]
    asked["spec"]["containers"][0]["image"] = "changed"  # ignored: only ephemeralContainers is taken
    new = ephemeral.update(PODS, POD, asked)
    assert new["spec"]["containers"][0]["image"] == "busybox"
    assert new["spec"]["ephemeralContainers"][0]["name"] == "dbg"
    assert new["spec"]["ephemeralContainers"][0]["terminationMessagePath"] == "/dev/termination-log"
    assert new["status"] == POD["status"]


def test_existing_ones_may_not_change_or_go() -> None:
    one = copy.deepcopy(POD)
    one["spec"]["ephemeralContainers"] = [debugger()]
    old = ephemeral.update(PODS, POD, one)
    with pytest.raises(Invalid, match='existing ephemeral containers "dbg" may not be removed'):
        ephemeral.update(PODS, old, {"spec": {"ephemeralContainers": []}})
    changed = copy.deepcopy(old)
    changed["spec"]["ephemeralContainers"][0]["image"] = "other"
    with pytest.raises(Invalid, match="may not be changed"):
        ephemeral.update(PODS, old, changed)


@pytest.mark.parametrize("extra", [{"ports": [{"containerPort": 80}]}, {"resources": {"limits": {"cpu": "1"}}},
                                   {"readinessProbe": {"tcpSocket": {"port": 80}}}])
def test_forbidden_fields_and_unknown_target(extra: dict) -> None:
    with pytest.raises(Invalid, match="cannot be set for an Ephemeral Container"):
        ephemeral.update(PODS, POD, {"spec": {"ephemeralContainers": [debugger(**extra)]}})
    with pytest.raises(Invalid, match="targetContainerName: Not found"):
        ephemeral.update(PODS, POD, {"spec": {"ephemeralContainers": [debugger(targetContainerName="nope")]}})
