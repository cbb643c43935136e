"""kube-scheduler's default plugins, one module each, named as in Kubernetes.

``default_plugins()`` lists them in the order of the default profile (``getDefaultPlugins`` in
``pkg/scheduler/apis/config/v1/default_plugins.go``): the order matters because a node's
reason is the first filter that rejects it, and the weights are the default score weights.
"""

from __future__ import annotations

from ..framework import Plugin
from .interpodaffinity import InterPodAffinity
from .nodeaffinity import NodeAffinity
from .nodeports import NodePorts
from .noderesources import BalancedAllocation, NodeResourcesFit
from .nodeunschedulable import NodeUnschedulable
from .podtopologyspread import PodTopologySpread
from .tainttoleration import TaintToleration


def default_plugins() -> list[Plugin]:
    return [NodeUnschedulable(), TaintToleration(), NodeAffinity(), NodePorts(), NodeResourcesFit(),
            PodTopologySpread(), InterPodAffinity(), BalancedAllocation()]


__all__ = ["default_plugins"]
