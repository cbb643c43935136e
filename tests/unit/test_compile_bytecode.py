"""scripts/compile_bytecode.py: the files it compiles are the package's dependencies, recursively."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import fastapi
import pydantic_core
import starlette

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("compile_bytecode", ROOT / "scripts" / "compile_bytecode.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_direct_and_indirect_dependencies_are_compiled_and_test_extras_are_not():
    files = {p.resolve() for p in _script().dependency_files()}
    assert Path(fastapi.__file__).resolve() in files  # a direct dependency
    assert Path(starlette.__file__).resolve() in files  # fastapi's, and ours
    assert any(Path(pydantic_core.__file__).parent.resolve() in p.parents for p in files)  # pydantic's
    # the test extras (pytest, the kubernetes client) are not what `pip install -e .` installs
    assert not any("/_pytest/" in str(p) or "/kubernetes/" in str(p) for p in files)
    # the package itself is compiled as a folder, not through its distribution's files
    assert not any((ROOT / "minikube_lite") in p.parents for p in files)


def test_it_writes_bytecode_where_imports_look_for_it(tmp_path, monkeypatch):
    module = _script()
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "dependency_files", list)
    (tmp_path / "minikube_lite").mkdir()
    src = tmp_path / "minikube_lite" / "m.py"
    src.write_text("X = 1\n")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert module.main() == 0
    assert Path(importlib.util.cache_from_source(str(src))).exists()
