"""apiextensions.k8s.io/v1 CustomResourceDefinition, as declared today: served read-only and empty.

kubectl's client-side validation lists CRDs before it reports an unknown kind ("no matches for
kind ..."); a 404 here would turn that into a confusing error. Serving CRDs for real (and the
kinds they define, registered at run time through ``api/register.py``) builds on this module.
"""

from __future__ import annotations

from minikube_lite.api.kind import Kind
from minikube_lite.api.resources import Resource

CUSTOMRESOURCEDEFINITION = Kind(
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
             "CustomResourceDefinition", False, ("crd", "crds"), ("api-extensions",), ("get", "list", "watch")),
)
KINDS = [CUSTOMRESOURCEDEFINITION]
