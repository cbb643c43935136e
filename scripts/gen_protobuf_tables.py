"""Generate minikube_lite/apiserver/protobuf_tables.py from Kubernetes' ``generated.proto`` files.

The protobuf field numbers of the Kubernetes kinds are their wire interface (as the JSON names
are); they are declared in ``generated.proto`` of k8s.io/api (core/v1, apps/v1 ...) and
k8s.io/apimachinery (meta/v1, runtime, intstr, resource). This script parses those files and
writes, for every message reachable from the roots, ``field number -> (json name, type,
label)``. The roots are the register's kinds that exist in the proto files (``api/register.py``,
so a kind registered there is decodable after a re-run), ``DeleteOptions`` (sent with DELETE),
and the bodies of subresources typed clients send (``SUBRESOURCE_ROOTS``).

Usage (sources are working trees, or ``GITDIR@REF`` read with ``git show``):

    python scripts/gen_protobuf_tables.py \\
        --api /work/.mirror/kubernetes+api/repo@v0.33.0 \\
        --apimachinery /work/.mirror/kubernetes+apimachinery/repo@v0.33.0 \\
        [--check]   # compare with the committed file instead of writing it
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minikube_lite.api import register

OUT = ROOT / "minikube_lite" / "apiserver" / "protobuf_tables.py"
LINE_LENGTH = 110

#: (group, version) whose kinds typed clients (kubectl create ..., client-go, Helm) may send as
#: protobuf; each is k8s.io/api's ``<group's first label or core>/<version>/generated.proto``
PROTOBUF_VERSIONS = [
    ("", "v1"), ("apps", "v1"), ("batch", "v1"), ("autoscaling", "v1"), ("autoscaling", "v2"),
    ("policy", "v1"), ("coordination.k8s.io", "v1"), ("discovery.k8s.io", "v1"), ("networking.k8s.io", "v1"),
    ("storage.k8s.io", "v1"), ("scheduling.k8s.io", "v1"), ("rbac.authorization.k8s.io", "v1"),
    ("authentication.k8s.io", "v1"), ("authentication.k8s.io", "v1beta1"), ("authorization.k8s.io", "v1"),
    ("certificates.k8s.io", "v1"),
]
MACHINERY_FILES = [
    "pkg/apis/meta/v1/generated.proto",
    "pkg/runtime/generated.proto",
    "pkg/util/intstr/generated.proto",
    "pkg/api/resource/generated.proto",
]
#: kinds typed clients send that are not kinds of the register: subresources' bodies
#: (``kubectl create token`` sends a TokenRequest, ``kubectl drain`` an Eviction)
SUBRESOURCE_ROOTS = [("authentication.k8s.io/v1", "TokenRequest"), ("policy/v1", "Eviction")]
#: (apiVersion, kind) -> message of the meta group sent with requests
META_ROOTS = {("v1", "DeleteOptions"): "DeleteOptions", ("meta.k8s.io/v1", "DeleteOptions"): "DeleteOptions"}

_FIELD = re.compile(r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)")
_MAP = re.compile(r"^\s*map\s*<\s*string\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)")
_SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float"}

Table = dict[str, dict[int, tuple[str, str, int]]]


def read(source: str, path: str) -> str:
    """A file of a working tree, or of ``GITDIR@REF``."""
    if "@" in source:
        gitdir, ref = source.rsplit("@", 1)
        return subprocess.run(["git", f"--git-dir={gitdir}", "show", f"{ref}:{path}"],
                              check=True, capture_output=True, text=True).stdout
    return (Path(source) / path).read_text()


def parse(text: str) -> tuple[str, Table]:
    """(package, message name -> {number: (json name, type as written, label)}) of one file."""
    out: Table = {}
    package = ""
    current: str | None = None
    depth = 0
    for line in text.splitlines():
        code = line.split("//", 1)[0]
        pm = re.match(r"^\s*package\s+([\w.]+)\s*;", code)
        if pm:
            package = pm.group(1)
        m = re.match(r"^\s*message\s+(\w+)\s*\{", code)
        if m and depth == 0:
            current = m.group(1)
            out[current] = {}
        elif current is not None and depth == 1:
            f = _FIELD.match(code)
            mp = _MAP.match(code)
            if f:
                label, typ, name, num = f.groups()
                out[current][int(num)] = (name, typ, 1 if label == "repeated" else 0)
            elif mp:
                typ, name, num = mp.groups()
                out[current][int(num)] = (name, typ, 2)
        depth += code.count("{") - code.count("}")
        if depth == 0:
            current = None
    return package, out


def package_of(api_version: str) -> str:
    """The proto package of an apiVersion of k8s.io/api: ``apps/v1`` -> ``k8s.io.api.apps.v1``."""
    group, _, version = api_version.rpartition("/")
    return f"k8s.io.api.{group.split('.')[0] or 'core'}.{version}"


def roots() -> list[tuple[str, str]]:
    """(apiVersion, kind) of every message a request body may start with."""
    wanted = {f"{g}/{v}" if g else v for g, v in PROTOBUF_VERSIONS}
    out = [(r.api_version, r.kind) for r in register.resources() if r.api_version in wanted]
    return sorted(set(out + SUBRESOURCE_ROOTS))


def build(api: str, machinery: str) -> tuple[Table, dict[tuple[str, str], str]]:
    """The messages reachable from the roots and the root per (apiVersion, kind). A message is
    named by its short name, or by ``package.Name`` where two reachable messages share a name
    (``ExtraValue`` of authentication/v1 and authorization/v1, HorizontalPodAutoscaler of
    autoscaling/v1 and v2)."""
    every: dict[tuple[str, str], dict[int, tuple[str, str, int]]] = {}  # (package, name) -> fields
    files = [(api, f"{g.split('.')[0] or 'core'}/{v}/generated.proto") for g, v in PROTOBUF_VERSIONS]
    files += [(machinery, path) for path in MACHINERY_FILES]
    for source, path in files:
        package, messages = parse(read(source, path))
        for name, fields in messages.items():
            every[(package, name)] = fields

    def resolve(typ: str, package: str) -> tuple[str, str] | None:
        if typ in _SCALARS:
            return None
        pkg, _, name = typ.lstrip(".").rpartition(".")
        ref = (pkg or package, name)
        return ref if ref in every else None

    starts = {key: (package_of(key[0]), key[1]) for key in roots()}
    starts = {key: ref for key, ref in starts.items() if ref in every}
    for key, ref in META_ROOTS.items():
        starts[key] = ("k8s.io.apimachinery.pkg.apis.meta.v1", ref)
    reachable: set[tuple[str, str]] = set()
    todo = list(starts.values())
    while todo:
        ref = todo.pop()
        if ref in reachable:
            continue
        reachable.add(ref)
        todo.extend(r for _, t, _ in every[ref].values() if (r := resolve(t, ref[0])) is not None)
    clashes = {n for n in {name for _, name in reachable} if sum(1 for _, m in reachable if m == n) > 1}

    def named(ref: tuple[str, str]) -> str:
        return f"{ref[0]}.{ref[1]}" if ref[1] in clashes else ref[1]

    table: Table = {}
    for ref in reachable:
        fields = every[ref]
        table[named(ref)] = {n: (f, named(r) if (r := resolve(t, ref[0])) else t.rsplit(".", 1)[-1], label)
                             for n, (f, t, label) in sorted(fields.items())}
    return dict(sorted(table.items())), {key: named(ref) for key, ref in sorted(starts.items())}


def render(table: Table, root_map: dict[tuple[str, str], str], origin: str) -> str:
    lines = [
        '"""Protobuf field numbers of the Kubernetes kinds that typed clients send as protobuf.',
        "",
        "GENERATED by scripts/gen_protobuf_tables.py from Kubernetes' ``generated.proto`` files of",
        f"{origin}: the wire interface, as JSON field names are. Do not edit; re-run the script.",
        "Each message maps a field number to ``(json name, type, label)``: type is a scalar name or",
        "another message of this table; label 0 = optional, 1 = repeated, 2 = map (string keys).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "MESSAGES: dict[str, dict[int, tuple[str, str, int]]] = {",
    ]
    for name, fields in table.items():
        entries = [f"{n}: ({f!r}, {t!r}, {label})".replace("'", '"') for n, (f, t, label) in fields.items()]
        one = f'    "{name}": {{{", ".join(entries)}}},'
        if len(one) <= LINE_LENGTH:
            lines.append(one)
        else:
            lines.append(f'    "{name}": {{')
            lines.extend(f"        {e}," for e in entries)
            lines.append("    },")
    lines += ["}", "", "# Root message per (apiVersion, kind).", "ROOTS: dict[tuple[str, str], str] = {"]
    lines += [f'    ("{av}", "{k}"): "{m}",' for (av, k), m in root_map.items()]
    lines += ["}", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="k8s.io/api working tree or GITDIR@REF")
    parser.add_argument("--apimachinery", required=True, help="k8s.io/apimachinery working tree or GITDIR@REF")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = parser.parse_args()
    table, root_map = build(args.api, args.apimachinery)
    origin = ", ".join(f"{name} {src.rsplit('@', 1)[-1]}" if "@" in src else name
                       for name, src in (("k8s.io/api", args.api), ("k8s.io/apimachinery", args.apimachinery)))
    text = render(table, root_map, origin)
    if args.check:
        same = OUT.read_text() == text
        print("protobuf_tables.py is up to date" if same else "protobuf_tables.py differs")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(table)} messages, {len(root_map)} roots")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
