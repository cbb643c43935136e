"""Who may do what: the cluster's certificates, authentication, RBAC and ServiceAccount tokens.

The parts of kube-apiserver that decide whether a request is let in: ``pki`` (the cluster CA and
the certificates minikube generates at first start), ``authn`` (client certificates, bearer
tokens, anonymous), ``requestinfo`` (what a request asks to do, in RBAC's terms), ``rbac`` (the
RBAC authorizer over Roles and bindings, with Kubernetes' default roles from ``policy.yaml``),
``middleware`` (the filter chain on the HTTP path) and ``tokens`` (ServiceAccount JWTs).
"""
