"""Schemathesis over the published OpenAPI v3 (every group-version merged into one document),
against a live daemon of its own: a bounded run (``SCHEMATHESIS_EXAMPLES`` cases per operation,
3 by default, over the operations of ``PATHS``: a few hundred cases, a couple of minutes) that fails on any 5xx, any response that
does not match the published schema, or a daemon that stops answering.

Writes that would reach the Docker engine or the host's network (pods, services, workloads,
nodes, volumes, ingresses, namespaces) are sent with ``dryRun=All``; the rest are real writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from minikube_lite.apiserver.query import go_bool

from .conftest import Cluster, running_cluster

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
DRY_RUN = ("/pods", "/services", "/deployments", "/replicasets", "/nodes", "/persistentvolume", "/ingresses",
           "/namespaces", "/endpoints", "/endpointslices", "/storageclasses", "/ingressclasses",
           "/customresourcedefinitions")


@pytest.fixture(scope="module")
def fuzz_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root: Path = tmp_path_factory.mktemp("schemathesis")
    with running_cluster(root) as c:
        yield c


@pytest.fixture(scope="module")
def published(fuzz_cluster: Cluster) -> Any:
    with fuzz_cluster.http() as c:
        merged: dict[str, Any] = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1"},
                                  "paths": {}, "components": {"schemas": {}}}
        for path in c.get("/openapi/v3").json()["paths"]:
            doc = c.get(f"/openapi/v3/{path}").json()
            merged["paths"].update(doc["paths"])
            merged["components"]["schemas"].update(doc.get("components", {}).get("schemas", {}))
    return schemathesis.openapi.from_dict(merged)


schema = schemathesis.pytest.from_fixture("published")
# The kinds fuzzed by default (~40 operations, ~120 cases): one of each shape (config, a Service
# and its allocations, a workload with its pod template and scale, a lease). Pods' own paths are
# the slowest to generate for (the largest schema) and are fuzzed in-process by test_api_fuzz.py.
# SCHEMATHESIS_PATHS=all fuzzes every operation (~170; about 10 minutes), or give a regex.
PATHS = os.environ.get("SCHEMATHESIS_PATHS", r"/(configmaps|services|deployments|leases)\b")
if PATHS != "all":
    schema = schema.include(path_regex=PATHS)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:  # one connection pool (a new one per case costs an SSL context)
        yield s


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_published_api(case: Any, fuzz_cluster: Cluster, session: requests.Session) -> None:
    query = dict(case.query or {})
    method = case.method.upper()
    if method in ("POST", "PUT", "PATCH", "DELETE") and any(k in case.path for k in DRY_RUN):
        query["dryRun"] = "All"
    checks = [not_a_server_error, response_schema_conformance]
    if "watch" in query or "follow" in query:
        query["timeoutSeconds"] = "1"  # streams end at once
        query.pop("follow", None)
        value = query.get("watch")
        if go_bool(value[0] if isinstance(value, list) and value else value if isinstance(value, str) else None):
            checks = [not_a_server_error]  # a watch is a stream of events, which no schema describes
    case.query = query
    try:
        case.call_and_validate(base_url=fuzz_cluster.url, session=session, timeout=30, checks=checks)
    finally:
        # the daemon still answers, whatever the case did
        assert session.get(f"{fuzz_cluster.url}/readyz", timeout=10).text == "ok"
