"""Property tests (hypothesis) for the patch and apply code: what Kubernetes guarantees of them.

- JSON merge patch (RFC 7386) is idempotent, and patches touching different keys commute.
- A strategic merge patch is idempotent (maps, lists merged by key, ``$patch: delete``), and
  patches of different label keys or different containers give the same object in either order
  (as sets: a new list element is appended where it arrives).
- Server-side apply: applying the same configuration again changes nothing (not even the
  resourceVersion), and two managers applying disjoint fields end in the same object whatever
  the order.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikube_lite.api.register import by_plural
from minikube_lite.apiserver.patch import json_merge_patch, strategic_merge_patch
from minikube_lite.apiserver.registry import Registry
from minikube_lite.config import Settings
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
keys = st.text(alphabet="abcdef", min_size=1, max_size=3)
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(alphabet="xyz", max_size=3)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=8)
objects = st.dictionaries(keys, values, max_size=4)
label_values = st.text(alphabet="abc123", min_size=1, max_size=4)


def _pod(labels: dict[str, str], containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels},
            "spec": {"containers": containers}}


containers = st.lists(st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "c", "d"]),
                                             "image": st.sampled_from(["busybox", "nginx", "x:1"])}),
                      max_size=3, unique_by=lambda c: c["name"])


@PROPS
@given(original=objects, patch=objects)
def test_json_merge_patch_is_idempotent(original: dict[str, Any], patch: dict[str, Any]) -> None:
    once = json_merge_patch(original, patch)
    assert json_merge_patch(once, patch) == once


@PROPS
@given(original=objects, a=objects, b=objects)
def test_json_merge_patches_of_different_keys_commute(original: dict[str, Any], a: dict[str, Any],
                                                      b: dict[str, Any]) -> None:
    b = {k: v for k, v in b.items() if k not in a}
    assert json_merge_patch(json_merge_patch(original, a), b) == json_merge_patch(json_merge_patch(original, b), a)


smp_patches = st.fixed_dictionaries({}, optional={
    "metadata": st.fixed_dictionaries({"labels": st.dictionaries(keys, label_values | st.none(), max_size=3)}),
    "spec": st.fixed_dictionaries({"containers": st.lists(
        st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "c", "d"])},
                              optional={"image": st.sampled_from(["busybox", "redis"]),
                                        "$patch": st.just("delete")}),
        max_size=3, unique_by=lambda c: c["name"])}),
})


@PROPS
@given(labels=st.dictionaries(keys, label_values, max_size=3), ctrs=containers, patch=smp_patches)
def test_strategic_merge_patch_is_idempotent(labels: dict[str, str], ctrs: list[dict[str, Any]],
                                             patch: dict[str, Any]) -> None:
    once = strategic_merge_patch(_pod(labels, ctrs), patch, "Pod")
    assert strategic_merge_patch(once, patch, "Pod") == once


def _as_sets(pod: dict[str, Any]) -> tuple[Any, ...]:
    ctrs = sorted(json.dumps(c, sort_keys=True) for c in pod.get("spec", {}).get("containers", []))
    return pod["metadata"].get("labels"), ctrs


@PROPS
@given(labels=st.dictionaries(keys, label_values, max_size=3), ctrs=containers, a=smp_patches, b=smp_patches)
def test_strategic_merge_patches_of_different_fields_commute(labels: dict[str, str], ctrs: list[dict[str, Any]],
                                                             a: dict[str, Any], b: dict[str, Any]) -> None:
    # keep b off a's label keys and a's containers
    if "metadata" in b:
        b["metadata"]["labels"] = {k: v for k, v in b["metadata"]["labels"].items()
                                   if k not in a.get("metadata", {}).get("labels", {})}
    if "spec" in b:
        taken = {c["name"] for c in a.get("spec", {}).get("containers", [])}
        b["spec"]["containers"] = [c for c in b["spec"]["containers"] if c["name"] not in taken]
    pod = _pod(labels, ctrs)
    ab = strategic_merge_patch(strategic_merge_patch(pod, a, "Pod"), b, "Pod")
    ba = strategic_merge_patch(strategic_merge_patch(pod, b, "Pod"), a, "Pod")
    assert _as_sets(ab) == _as_sets(ba)


CMS = by_plural("configmaps")
APPLY = "application/apply-patch+yaml"
_counter = itertools.count()


def _registry(tmp_path_factory: Any) -> Registry:
    root: Path = tmp_path_factory.mktemp("ssa")
    reg = Registry(SQLiteStore(root / "db"))
    bootstrap(reg, Settings(state_dir=root))
    return reg


def _apply(reg: Registry, name: str, data: dict[str, str], labels: dict[str, str], manager: str) -> dict[str, Any]:
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": data}
    obj, _, _ = reg.patch(CMS, "default", name, json.dumps(cfg).encode(), APPLY, field_manager=manager)
    return obj


@settings(PROPS, max_examples=40)  # each example is a registry of its own
@given(data=st.dictionaries(keys, label_values, max_size=4), labels=st.dictionaries(keys, label_values, max_size=3))
def test_server_side_apply_again_is_a_no_op(tmp_path_factory: Any, data: dict[str, str],
                                            labels: dict[str, str]) -> None:
    reg = _registry(tmp_path_factory)
    name = f"cm{next(_counter)}"
    first = _apply(reg, name, data, labels, "alice")
    again = _apply(reg, name, data, labels, "alice")
    assert again == first  # resourceVersion and managedFields included


@settings(PROPS, max_examples=40)
@given(a=st.dictionaries(keys, label_values, min_size=1, max_size=3),
       b=st.dictionaries(keys, label_values, min_size=1, max_size=3))
def test_server_side_apply_of_disjoint_fields_commutes(tmp_path_factory: Any, a: dict[str, str],
                                                       b: dict[str, str]) -> None:
    b = {f"z{k}": v for k, v in b.items()}  # disjoint from a's keys
    reg = _registry(tmp_path_factory)
    one, two = f"cm{next(_counter)}", f"cm{next(_counter)}"
    _apply(reg, one, a, {}, "alice")
    ab = _apply(reg, one, b, {}, "bob")
    _apply(reg, two, b, {}, "bob")
    ba = _apply(reg, two, a, {}, "alice")
    assert ab["data"] == ba["data"] == {**a, **b}
    owners = {m["manager"] for m in ab["metadata"]["managedFields"]}
    assert owners == {m["manager"] for m in ba["metadata"]["managedFields"]}
