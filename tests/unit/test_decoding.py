"""Bounded decoding (apiserver/decoding.py): alias bombs, deep nesting, surrogates, merge keys."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from minikube_lite.apiserver import decoding
from minikube_lite.apiserver.decoding import MAX_DEPTH, DecodeError, allowed_alias_ratio, load_json, load_yaml


def billion_laughs(levels: int, fan: int = 9) -> str:
    lines = ["a: &a [" + ",".join(["lol"] * fan) + "]"]
    for i in range(1, levels):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * fan) + "]")
    return "\n".join(lines) + "\n"


def test_alias_ratio_is_go_yamls() -> None:
    assert allowed_alias_ratio(1000) == 0.99
    assert allowed_alias_ratio(4_000_000) == 0.10
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.99 - 0.89 * 0.5)


@pytest.mark.parametrize("levels", [4, 9, 12])
def test_alias_bomb_is_refused_before_expanding(levels: int) -> None:
    started = time.monotonic()
    with pytest.raises(DecodeError, match="document contains excessive aliasing") as err:
        load_yaml(billion_laughs(levels))
    assert time.monotonic() - started < 0.5
    assert err.value.code == 400


def test_few_aliases_are_fine_and_copied() -> None:
    doc = load_yaml("base: &b {x: 1, l: [1]}\nuse: *b\nm:\n  <<: *b\n  x: 2\n")
    assert doc == {"base": {"x": 1, "l": [1]}, "use": {"x": 1, "l": [1]}, "m": {"x": 2, "l": [1]}}
    doc["use"]["l"].append(2)
    assert doc["base"]["l"] == [1] and doc["m"]["l"] == [1]  # each use its own copy, as go-yaml decodes


def test_nested_aliases_share_nothing() -> None:
    """Aliases of collections that hold aliases: no list or mapping is reachable twice."""
    docs = decoding.load_yaml_all("a: &a {x: [1, {y: 2}]}\nb: &b [*a, *a]\nc: [*b, *b]\nd:\n  <<: *a\n  z: 3\n")
    seen: set[int] = set()
    stack = [docs[0]]
    while stack:
        node = stack.pop()
        assert id(node) not in seen
        seen.add(id(node))
        stack.extend(v for v in (node.values() if isinstance(node, dict) else node) if isinstance(v, dict | list))
    # the document; a (map, x, {y}); b (list + a twice); c (list + b twice); d (map, x, {y})
    assert len(seen) == 1 + 3 + (1 + 2 * 3) + (1 + 2 * 7) + 3
    assert docs[0]["c"][1][0]["x"][1] == {"y": 2} and docs[0]["d"] == {"x": [1, {"y": 2}], "z": 3}


def test_same_values_as_pyyaml_for_ordinary_documents() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: {a: 'yes', n: '1'}}\nspec:\n"
            "  containers:\n  - name: c\n    image: busybox\n    args: [-c, 'echo hi', 3, 1.5, true, null, ~]\n")
    assert load_yaml(text) == yaml.safe_load(text)
    assert decoding.load_yaml_all("a: 1\n---\nb: 2\n---\n") == [{"a": 1}, {"b": 2}, None]


def test_timestamps_stay_text() -> None:
    assert load_yaml("d: 2024-01-01\nt: 2024-01-01T10:00:00Z\n") == {"d": "2024-01-01", "t": "2024-01-01T10:00:00Z"}


@pytest.mark.parametrize("text", ["[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[" * 1_000_000,
                                  "a:\n" + "".join(" " * (i + 1) + "- \n" for i in range(MAX_DEPTH + 5))])
def test_deep_yaml_is_refused_naming_the_limit(text: str) -> None:
    with pytest.raises(DecodeError, match=f"exceeded max depth of {MAX_DEPTH}"):
        load_yaml(text)


def test_depth_through_an_alias_counts() -> None:
    inner = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
    with pytest.raises(DecodeError, match="max depth"):
        load_yaml(f"a: &a {inner}\nb: [[[*a]]]\n")


@pytest.mark.parametrize("depth,ok", [(MAX_DEPTH, True), (MAX_DEPTH + 1, False), (100_000, False)])
def test_json_depth(depth: int, ok: bool) -> None:
    text = "[" * depth + "]" * depth
    if ok:
        assert load_json(text) is not None
        assert load_yaml(text) is not None
    else:
        with pytest.raises(DecodeError, match=f"exceeded max depth of {MAX_DEPTH}"):
            load_json(text)


def test_lone_surrogates_become_replacement_characters() -> None:
    value = load_json('{"a": "\\udc80x", "\\ud800": ["\\udfff"], "ok": "\\ud83d\\ude00"}')
    assert value == {"a": "\ufffdx", "\ufffd": ["\ufffd"], "ok": "\U0001f600"}
    json.dumps(value).encode("utf-8")  # nothing left that cannot be encoded


@pytest.mark.parametrize("text,message", [
    ("&a [*a]", "value contains itself"), ("x: *nope", "unknown anchor"), ("{[1]: 2}", "must be a scalar"),
    ("a: !!python/object x", "could not determine a constructor"), ("a: [1", "line 2, column 1"),
    ("<<: 3", "map merge requires map"),
])
def test_bad_yaml_is_a_400(text: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        load_yaml(text)


def test_nan_and_garbage_json() -> None:
    for text in ("NaN", '{"a": Infinity}', "{", b"\xff\xfe"):
        with pytest.raises(DecodeError):
            load_json(text)


@pytest.mark.parametrize("loader", [n for n in ("CSafeLoader", "SafeLoader") if hasattr(yaml, n)])
def test_unreadable_yaml_is_a_decode_error_with_either_loader(loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A control character is refused by libyaml while scanning and by PyYAML's own reader when
    the loader is made: both are the YAML decoder's DecodeError (a 400), not a YAMLError that only
    the caller's catch-all would turn into one."""
    from minikube_lite.apiserver import decoding_yaml

    monkeypatch.setattr(decoding_yaml, "_Loader", getattr(yaml, loader))
    with pytest.raises(DecodeError, match="error parsing YAML"):
        load_yaml("a: \x07")
