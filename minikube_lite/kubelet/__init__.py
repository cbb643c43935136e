"""The kubelet: runs the pods bound to this node as Docker containers and reports their status."""

from .kubelet import Kubelet

__all__ = ["Kubelet"]
