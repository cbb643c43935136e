"""Schemathesis over the published OpenAPI v3 (every group-version merged into one document),
against a live daemon of its own over HTTPS as the admin: a bounded run, in the default suite
(up to ``SCHEMATHESIS_EXAMPLES`` generated cases per operation, 5 by default, over the
operations of ``PATHS``: at most 350 cases, about 2 minutes on the loaded 2-core machine, ~150 MB) that fails on any 5xx, any
response that does not match the published schema, or a daemon that stops answering.

Only hypothesis' generate phase runs: the explicit phase adds ~100 schema-derived examples per
operation (minutes per kind). Writes that would reach the Docker engine or the host's network
(pods, services, workloads, nodes, volumes, ingresses, namespaces) are sent with
``dryRun=All``; the rest (ConfigMaps, Secrets, Leases) are real writes.
"""

from __future__ import annotations

import os
import re
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

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
# The resources whose writes would reach the Docker engine or the host's network: matched on the
# resource segment (every namespaced path holds "/namespaces/", so a plain substring would make
# every write a dry run).
DRY_RUN = re.compile(r"/(pods|services|deployments|replicasets|statefulsets|daemonsets|jobs|cronjobs|nodes|"
                     r"persistentvolumes|persistentvolumeclaims|ingresses|endpoints|endpointslices|"
                     r"storageclasses|ingressclasses|customresourcedefinitions)(/|$)|^/api/v1/namespaces(/\{name\})?"
                     r"(/[a-z]+)?$")


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
# The operations fuzzed by default (70 operations, at most 350 cases, about 2 minutes): one of each
# shape: config (ConfigMaps, Secrets), a Service and its allocations, a workload with its pod
# template and scale, the Pod itself with its subresources (the largest schema, slowest to
# generate for), a Lease, and Namespaces (cluster-scoped). SCHEMATHESIS_PATHS=all fuzzes every
# operation (~170; about 10 minutes), or give a regex.
PATHS = os.environ.get("SCHEMATHESIS_PATHS",
                       r"/(configmaps|secrets|services|deployments|leases|pods)\b|^/api/v1/namespaces(/\{name\})?$")
if PATHS != "all":
    schema = schema.include(path_regex=PATHS)


@pytest.fixture(scope="module")
def session(fuzz_cluster: Cluster) -> Iterator[requests.Session]:
    with requests.Session() as s:  # one connection pool (a new one per case costs an SSL context)
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override the
        # session's own ``verify`` (psf/requests#3829), and schemathesis sends its own
        # ``verify=True`` with each case: the cluster CA was ignored twice and every case failed
        # certificate verification. The session ignores the environment, and each call below
        # names the CA itself.
        s.trust_env = False
        s.verify = fuzz_cluster.ca_file  # HTTPS with the cluster's CA, as the admin (issue 17)
        s.headers["Authorization"] = f"Bearer {fuzz_cluster.token}"
        yield s


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_published_api(case: Any, fuzz_cluster: Cluster, session: requests.Session) -> None:
    query = dict(case.query or {})
    method = case.method.upper()
    if method in ("POST", "PUT", "PATCH", "DELETE") and DRY_RUN.search(case.path):
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
        case.call_and_validate(base_url=fuzz_cluster.url, session=session, timeout=30, checks=checks,
                               verify=fuzz_cluster.ca_file)
    finally:
        # the daemon still answers, whatever the case did
        assert session.get(f"{fuzz_cluster.url}/readyz", timeout=10).text == "ok"
