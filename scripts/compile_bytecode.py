"""Writes the bytecode of minikube-lite and of every package it depends on (recursively).

pip compiles what it installs, except where the environment sets PYTHONDONTWRITEBYTECODE=1 (this
machine's kind does): then nothing is compiled, and since imports do not write bytecode either,
every daemon, CLI call and node agent compiled FastAPI, pydantic, the Docker SDK ... from source at
each start (the API answered after about 1.1 s instead of 0.6 s, docs/performance.md). This writes
the ``__pycache__`` files pip would have written. Safe to run again: up-to-date files are skipped.

Run: ``python scripts/compile_bytecode.py`` (scripts/setup.sh runs it after ``pip install -e .``).
"""

from __future__ import annotations

import compileall
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for req in dist.requires or []:
        if "extra ==" in req:  # optional extras are not installed by `pip install -e .`
            continue
        names.append(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
    return names


def dependency_files(top: str = "minikube-lite") -> list[Path]:
    """The installed .py files of every distribution ``top`` needs, ``top`` excluded."""
    seen: set[str] = set()
    todo = [top]
    files: list[Path] = []
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:  # a marker excluded it (e.g. sys_platform)
            continue
        todo.extend(_requirement_names(dist))
        if key != top:
            files.extend(Path(dist.locate_file(f)) for f in dist.files or [] if f.suffix == ".py")
    return files


def main() -> int:
    sys.dont_write_bytecode = False
    ok = compileall.compile_dir(ROOT / "minikube_lite", quiet=1, workers=0)
    for path in dependency_files():
        ok = compileall.compile_file(path, quiet=1) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
