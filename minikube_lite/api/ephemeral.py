"""``pods/<name>/ephemeralcontainers``: the subresource ``kubectl debug`` writes.

In Kubernetes a pod's spec is fixed once created, except through this subresource, which only
changes ``spec.ephemeralContainers``, and only by adding to it: an existing ephemeral container
may be neither changed nor removed. Ephemeral containers take no ports, probes, resources or
lifecycle hooks. ``kubectl debug POD -it --image=I`` GETs the pod, PATCHes this subresource with
a strategic merge patch adding one container, waits for its status to show it running, then
attaches to it. The kubelet starts each ephemeral container once, never restarts it, and reports
it in ``status.ephemeralContainerStatuses``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from minikube_lite.api.defaults import apply_defaults_to_pod_spec
from minikube_lite.api.errors import Invalid, cause
from minikube_lite.api.resources import Resource

FORBIDDEN_FIELDS = ("ports", "livenessProbe", "readinessProbe", "startupProbe", "resources", "lifecycle")


def update(res: Resource, old: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """The pod after the ephemeral containers of ``obj`` are taken in (the rest of ``obj`` is ignored);
    called by the Pod kind's strategy (api/pods.py) for writes to this subresource."""
    name = old["metadata"]["name"]
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    wanted = spec.get("ephemeralContainers") or []
    if not isinstance(wanted, list) or not all(isinstance(c, dict) for c in wanted):
        raise Invalid("Pod", name, [cause("spec.ephemeralContainers", "Invalid value: must be a list of containers")])
    new = copy.deepcopy(old)
    new.setdefault("spec", {})["ephemeralContainers"] = copy.deepcopy(wanted)
    apply_defaults_to_pod_spec(new["spec"])
    before = {c.get("name"): c for c in (old.get("spec") or {}).get("ephemeralContainers") or []}
    after = {c.get("name"): c for c in new["spec"]["ephemeralContainers"]}
    causes = []
    for cname, container in before.items():
        if cname not in after:
            causes.append(cause("spec.ephemeralContainers", f'Forbidden: existing ephemeral containers "{cname}" '
                                "may not be removed", "FieldValueForbidden"))
        elif after[cname] != container:
            causes.append(cause("spec.ephemeralContainers", f'Forbidden: existing ephemeral containers "{cname}" '
                                "may not be changed", "FieldValueForbidden"))
    for i, container in enumerate(new["spec"]["ephemeralContainers"]):
        for field in FORBIDDEN_FIELDS:
            if container.get(field):
                causes.append(cause(f"spec.ephemeralContainers[{i}].{field}",
                                    "Forbidden: cannot be set for an Ephemeral Container", "FieldValueForbidden"))
        target = container.get("targetContainerName")
        if target and target not in [c.get("name") for c in new["spec"].get("containers") or []]:
            causes.append(cause(f"spec.ephemeralContainers[{i}].targetContainerName",
                                f"Not found: {json.dumps(target)}", "FieldValueNotFound"))
    if causes:
        raise Invalid("Pod", name, causes)
    from minikube_lite.api import register  # the register imports the kinds, this among them

    validated, _ = register.validate(res, new)
    return validated
