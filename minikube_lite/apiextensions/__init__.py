"""apiextensions-apiserver: CustomResourceDefinitions and the custom resources they define.

In Kubernetes this is a server of its own, chained in front of kube-apiserver's built-in kinds;
here it is a folder of leaf modules that the API server asks about a custom kind:

- ``crd_validation``: the CRD object's own rules (names, group, versions, columns, subresources);
- ``structural``: whether ``openAPIV3Schema`` is a *structural* schema, with Kubernetes' reasons;
- ``naming``: the ``NamesAccepted`` / ``Established`` conditions (the naming controller);
- ``schema_validation``: a custom object checked against its version's schema (422 causes);
- ``defaulting``: defaults applied and unknown fields pruned (or named, for fieldValidation);
- ``cel``: ``x-kubernetes-validations`` rules, evaluated with cel-python;
- ``printer``, ``jsonpath``: ``additionalPrinterColumns`` as Table columns;
- ``subresources``: the ``status`` and ``scale`` subresources.
"""
