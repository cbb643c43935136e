"""minikube-lite: a local Kubernetes on the machine's own Docker engine."""

__version__ = "0.1.0"
