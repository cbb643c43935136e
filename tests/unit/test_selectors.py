"""Label and field selectors with Kubernetes' syntax."""

from __future__ import annotations

import pytest

from minikube_lite.api.errors import BadRequest
from minikube_lite.apiserver.selectors import matches_selector, parse_field_selector, parse_label_selector


def pod(labels: dict[str, str], **status: str) -> dict:
    return {"metadata": {"name": "p", "namespace": "default", "labels": labels}, "spec": {"nodeName": "n1"},
            "status": status}


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {}, True),
    ("app=web", {}, False),
    ("app in (web, db)", {"app": "db"}, True),
    ("app notin (web,db)", {"app": "db"}, False),
    ("app notin (web)", {}, True),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("app=web,tier in (fe),!canary", {"app": "web", "tier": "fe"}, True),
    ("app=web,tier in (fe),!canary", {"app": "web", "tier": "fe", "canary": "1"}, False),
    ("example.com/role=x", {"example.com/role": "x"}, True),
])
def test_label_selector(selector: str, labels: dict[str, str], expected: bool) -> None:
    pred = parse_label_selector(selector)
    assert pred is not None and pred(pod(labels)) is expected


@pytest.mark.parametrize("bad", ["app in (web", "=x", "app=web,", "a b c", "app=we b", "app in web)"])
def test_bad_label_selectors_are_400(bad: str) -> None:
    with pytest.raises(BadRequest):
        parse_label_selector(bad)


def test_field_selectors() -> None:
    pred = parse_field_selector("metadata.name=p,spec.nodeName=n1,status.phase!=Failed", "pods")
    assert pred is not None and pred(pod({}, phase="Running"))
    unbound = parse_field_selector("spec.nodeName=", "pods")
    assert unbound is not None and not unbound(pod({}))
    with pytest.raises(BadRequest, match="field label not supported: spec.image"):
        parse_field_selector("spec.image=x", "pods")


def test_label_selector_objects() -> None:
    sel = {"matchLabels": {"app": "w"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}
    assert matches_selector(sel, {"app": "w", "tier": "a"})
    assert not matches_selector(sel, {"app": "w", "tier": "b"})
    assert matches_selector({}, {"x": "y"})
