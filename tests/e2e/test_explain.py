"""``kubectl explain`` works for every served kind, from the published OpenAPI (real kubectl).

kubectl 1.27 and 1.28 may read OpenAPI v2 (protobuf) and newer ones v3; both documents are
generated from the kinds' pydantic models (apiserver/schemas.py), so every kind has a
field-level schema and nested fields resolve through the definitions.
"""

from __future__ import annotations

import pytest

from .conftest import Cluster

VERSIONS = ["1.27", "1.33"]


def _served(cluster: Cluster, version: str) -> list[str]:
    out = cluster.kubectl("api-resources", "-o", "name", version=version).stdout.split()
    assert "pods" in out and "deployments.apps" in out
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_explain_every_served_kind(cluster: Cluster, version: str) -> None:
    failures = []
    served = _served(cluster, version)
    for resource in served:
        plural, _, group = resource.partition(".")
        args = [resource]
        if group and plural in served:
            # kubectl reads "pods.metrics.k8s.io" as the core pods' field path "metrics.k8s.io"
            # (any kubectl, against any server): a plural the core group also has needs --api-version
            versions = cluster.kubectl("api-versions", version=version).stdout.split()
            args = [plural, f"--api-version={next(v for v in versions if v.startswith(group + '/'))}"]
        proc = cluster.kubectl("explain", *args, version=version, check=False)
        if proc.returncode != 0 or "KIND:" not in proc.stdout or "FIELDS:" not in proc.stdout:
            failures.append(f"{resource}: rc={proc.returncode} {proc.stderr.strip()[:200]}")
            continue
        # every kind has the standard header, metadata explained down to its fields
        assert "metadata" in proc.stdout and "apiVersion" in proc.stdout, resource
    assert not failures, "\n".join(failures)


CASES = [
    # (explain path, words its output must contain)
    ("deployment.spec", ["DeploymentSpec", "replicas", "selector", "template", "strategy", "-required-"]),
    ("configmap", ["ConfigMap", "data", "binaryData", "immutable"]),
    ("replicaset.spec.template.spec.containers", ["Container", "image", "ports", "volumeMounts",
                                                   "name", "-required-"]),
    ("ingress.spec", ["IngressSpec", "ingressClassName", "rules", "tls"]),
    ("pvc.spec", ["PersistentVolumeClaimSpec", "accessModes", "storageClassName", "resources"]),
    ("pods.spec.containers.ports", ["containerPort", "protocol"]),
    ("service.spec.ports.targetPort", ["IntOrString"]),
    ("deployment.spec.strategy.rollingUpdate.maxSurge", ["IntOrString"]),
    ("pod.metadata.labels", ["map[string]string"]),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("path", "words"), CASES, ids=[c[0] for c in CASES])
def test_explain_fields(cluster: Cluster, version: str, path: str, words: list[str]) -> None:
    out = cluster.kubectl("explain", path, version=version).stdout
    missing = [w for w in words if w not in out]
    assert not missing, f"kubectl {version} explain {path}: missing {missing}\n{out}"


@pytest.mark.parametrize("version", VERSIONS)
def test_explain_describes_fields(cluster: Cluster, version: str) -> None:
    out = cluster.kubectl("explain", "pod.spec.containers.image", version=version).stdout
    assert "Container image reference" in out
    out = cluster.kubectl("explain", "deployment.spec.nosuchfield", version=version, check=False)
    assert out.returncode != 0 and 'field "nosuchfield" does not exist' in out.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_explain_recursive(cluster: Cluster, version: str) -> None:
    out = cluster.kubectl("explain", "deployment", "--recursive", version=version).stdout
    for word in ("template", "containers", "livenessProbe", "httpGet", "matchLabels"):
        assert word in out, word
