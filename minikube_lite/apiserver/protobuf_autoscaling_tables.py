"""Protobuf field numbers of autoscaling/v1 HorizontalPodAutoscaler, written by hand.

``kubectl autoscale`` (1.27 to 1.33) creates an autoscaling/v1 HorizontalPodAutoscaler through
client-go's typed client, as protobuf. ``scripts/gen_protobuf_tables.py`` names messages without
their package, and autoscaling/v1 and v2 share message names (``HorizontalPodAutoscaler``,
``CrossVersionObjectReference``), so these few are kept here under prefixed names, from k8s.io/api's
``autoscaling/v1/generated.proto``, and merged into ``protobuf_tables``' at import.
"""

from __future__ import annotations

from .protobuf_tables import MESSAGES, ROOTS

MESSAGES.update({
    "AutoscalingV1CrossVersionObjectReference": {1: ("kind", "string", 0), 2: ("name", "string", 0),
                                                 3: ("apiVersion", "string", 0)},
    "AutoscalingV1HorizontalPodAutoscaler": {1: ("metadata", "ObjectMeta", 0),
                                             2: ("spec", "AutoscalingV1HorizontalPodAutoscalerSpec", 0),
                                             3: ("status", "AutoscalingV1HorizontalPodAutoscalerStatus", 0)},
    "AutoscalingV1HorizontalPodAutoscalerSpec": {
        1: ("scaleTargetRef", "AutoscalingV1CrossVersionObjectReference", 0), 2: ("minReplicas", "int32", 0),
        3: ("maxReplicas", "int32", 0), 4: ("targetCPUUtilizationPercentage", "int32", 0)},
    "AutoscalingV1HorizontalPodAutoscalerStatus": {
        1: ("observedGeneration", "int64", 0), 2: ("lastScaleTime", "Time", 0), 3: ("currentReplicas", "int32", 0),
        4: ("desiredReplicas", "int32", 0), 5: ("currentCPUUtilizationPercentage", "int32", 0)},
})
ROOTS.update({("autoscaling/v1", "HorizontalPodAutoscaler"): "AutoscalingV1HorizontalPodAutoscaler"})
