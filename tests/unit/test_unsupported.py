"""Which fields get a "stored but not acted on" warning: only values that would change behaviour."""

from __future__ import annotations

import pytest

from minikube_lite.api.unsupported import warnings_for


def _pod(**spec: object) -> dict:
    return {"spec": {"containers": [{"name": "a", "image": "x"}], **spec}}


@pytest.mark.parametrize(("spec", "path"), [
    ({"hostPID": True}, "spec.hostPID"),
    ({"shareProcessNamespace": True}, "spec.shareProcessNamespace"),
    ({"readinessGates": [{"conditionType": "x"}]}, "spec.readinessGates"),
    ({"securityContext": {"fsGroup": 2000}}, "spec.securityContext.fsGroup"),
    ({"volumes": [{"name": "v", "csi": {"driver": "d"}}]}, "spec.volumes[0].csi"),
    ({"initContainers": [{"name": "s", "image": "x", "restartPolicy": "Always"}]},
     "spec.initContainers[0].restartPolicy"),
    ({"containers": [{"name": "a", "image": "x", "livenessProbe": {"grpc": {"port": 9}}}]},
     "spec.containers[0].livenessProbe.grpc"),
    ({"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v",
                                                                  "subPathExpr": "$(POD)"}]}]},
     "spec.containers[0].volumeMounts[0].subPathExpr"),
    ({"containers": [{"name": "a", "image": "x", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]},
     "spec.containers[0].securityContext.seccompProfile"),
])
def test_fields_that_change_behaviour_are_reported(spec: dict, path: str) -> None:
    [warning] = warnings_for("Pod", _pod(**spec))
    assert warning.startswith(f"{path}: minikube-lite stores it but does not act on it (")


@pytest.mark.parametrize("spec", [
    {"hostNetwork": True},  # supported: the pod joins the host's network namespace
    {"hostPID": False},
    {"affinity": {}},
    # honoured by the scheduler (scheduler/plugins/)
    {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}},
    {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                    "whenUnsatisfiable": "DoNotSchedule"}]},
    {"tolerations": [{"operator": "Exists"}]},
    {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "p", "persistentVolumeClaim": {"claimName": "c"}}]},
    {"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v",
                                                                  "mountPropagation": "None"}],
                     "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
                     "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                         "capabilities": {"drop": ["ALL"]}}}]},
])
def test_supported_or_neutral_values_say_nothing(spec: dict) -> None:
    assert warnings_for("Pod", _pod(**spec)) == []


def test_templates_and_services() -> None:
    deploy = {"spec": {"template": {"spec": {"hostIPC": True, "containers": []}}}}
    assert warnings_for("Deployment", deploy)[0].startswith("spec.template.spec.hostIPC:")
    assert warnings_for("ReplicaSet", deploy)[0].startswith("spec.template.spec.hostIPC:")
    svc = {"spec": {"sessionAffinity": "ClientIP", "externalIPs": ["1.2.3.4"]}}
    assert [w.split(":")[0] for w in warnings_for("Service", svc)] == ["spec.externalIPs", "spec.sessionAffinity"]
    assert warnings_for("Service", {"spec": {"sessionAffinity": "None"}}) == []
    assert warnings_for("ConfigMap", {"data": {"a": "b"}}) == []
