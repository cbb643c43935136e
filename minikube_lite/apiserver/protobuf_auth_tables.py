"""Protobuf field numbers of authentication/v1, authorization/v1, rbac/v1 and certificates/v1,
written by hand.

``kubectl create token / role / rolebinding``, ``auth whoami``, ``auth can-i`` and ``certificate
approve/deny`` send these as protobuf (a CSR's ``spec.extra`` is not read: the approval
subresource takes only the conditions). ``scripts/gen_protobuf_tables.py`` does not cover these groups yet: two of their
messages share a name (``ExtraValue`` in authentication/v1 and authorization/v1), and the
generator names messages without their package. Until it does, this table is kept by hand, from
k8s.io/api's generated.proto files, and merged into ``protobuf_tables``' at import.
"""

from __future__ import annotations

from .protobuf_tables import MESSAGES, ROOTS

MESSAGES.update({
    "TokenRequest": {1: ("metadata", "ObjectMeta", 0), 2: ("spec", "TokenRequestSpec", 0)},
    "TokenRequestSpec": {1: ("audiences", "string", 1), 4: ("expirationSeconds", "int64", 0),
                         3: ("boundObjectRef", "BoundObjectReference", 0)},
    "BoundObjectReference": {1: ("kind", "string", 0), 2: ("apiVersion", "string", 0), 3: ("name", "string", 0),
                             4: ("uid", "string", 0)},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", 0)},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", 0), 2: ("spec", "SelfSubjectAccessReviewSpec", 0)},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", 0),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", 0)},
    "ResourceAttributes": {1: ("namespace", "string", 0), 2: ("verb", "string", 0), 3: ("group", "string", 0),
                           4: ("version", "string", 0), 5: ("resource", "string", 0),
                           6: ("subresource", "string", 0), 7: ("name", "string", 0)},
    "NonResourceAttributes": {1: ("path", "string", 0), 2: ("verb", "string", 0)},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", 0), 2: ("spec", "SelfSubjectRulesReviewSpec", 0)},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string", 0)},
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta", 0), 2: ("spec", "SubjectAccessReviewSpec", 0)},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", 0),
                                2: ("nonResourceAttributes", "NonResourceAttributes", 0), 3: ("user", "string", 0),
                                4: ("groups", "string", 1), 6: ("uid", "string", 0)},
    "PolicyRule": {1: ("verbs", "string", 1), 2: ("apiGroups", "string", 1), 3: ("resources", "string", 1),
                   4: ("resourceNames", "string", 1), 5: ("nonResourceURLs", "string", 1)},
    "Role": {1: ("metadata", "ObjectMeta", 0), 2: ("rules", "PolicyRule", 1)},
    "AggregationRule": {1: ("clusterRoleSelectors", "LabelSelector", 1)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", 0), 2: ("rules", "PolicyRule", 1),
                    3: ("aggregationRule", "AggregationRule", 0)},
    "RBACSubject": {1: ("kind", "string", 0), 2: ("apiGroup", "string", 0), 3: ("name", "string", 0),
                    4: ("namespace", "string", 0)},
    "RoleRef": {1: ("apiGroup", "string", 0), 2: ("kind", "string", 0), 3: ("name", "string", 0)},
    "RoleBinding": {1: ("metadata", "ObjectMeta", 0), 2: ("subjects", "RBACSubject", 1), 3: ("roleRef", "RoleRef", 0)},
    "CertificateSigningRequest": {1: ("metadata", "ObjectMeta", 0), 2: ("spec", "CertificateSigningRequestSpec", 0),
                                  3: ("status", "CertificateSigningRequestStatus", 0)},
    "CertificateSigningRequestSpec": {1: ("request", "bytes", 0), 2: ("username", "string", 0),
                                      3: ("uid", "string", 0), 4: ("groups", "string", 1),
                                      5: ("usages", "string", 1), 7: ("signerName", "string", 0),
                                      8: ("expirationSeconds", "int32", 0)},
    "CertificateSigningRequestStatus": {1: ("conditions", "CertificateSigningRequestCondition", 1),
                                        2: ("certificate", "bytes", 0)},
    "CertificateSigningRequestCondition": {1: ("type", "string", 0), 6: ("status", "string", 0),
                                           2: ("reason", "string", 0), 3: ("message", "string", 0),
                                           4: ("lastUpdateTime", "Time", 0), 5: ("lastTransitionTime", "Time", 0)},
})
ROOTS.update({
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): "CertificateSigningRequest",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authentication.k8s.io/v1beta1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "SubjectAccessReview",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "RoleBinding",
})
