"""api/conditions.py: the one reading of ``status.conditions`` (pods, nodes, jobs, CSRs, CRDs)."""

from minikube_lite.api.conditions import condition, find, is_true, ready


def test_the_first_condition_of_a_type_counts_and_only_true_is_true() -> None:
    pod = {"status": {"conditions": [{"type": "Initialized", "status": "True"},
                                     {"type": "Ready", "status": "False"},
                                     {"type": "Ready", "status": "True"}]}}
    assert condition(pod, "Ready") == {"type": "Ready", "status": "False"}  # GetPodCondition: the first
    assert not ready(pod) and is_true(pod, "Initialized")
    assert ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    for unknown in ({}, {"status": None}, {"status": {"conditions": None}},
                    {"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}},
                    {"status": {"conditions": [{"type": "Ready", "status": True}]}}):  # not the string
        assert not ready(unknown)
    assert find(None, "Ready") is None and find([{"type": "Ready"}], "Ready") == {"type": "Ready"}
