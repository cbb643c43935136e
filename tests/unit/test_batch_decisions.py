"""Unit tests of the Job and CronJob decisions: backoff, podFailurePolicy, indexes, schedules,
validation messages and table cells (no API server, no Docker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from minikube_lite.api import cronjob as api_cronjob
from minikube_lite.api import job as api_job
from minikube_lite.api.validation import ErrorList
from minikube_lite.controllers import cron_schedule as cs
from minikube_lite.controllers import job_policy as jp

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _pod(phase: str, finished: datetime | None = None, *, exit_code: int = 1, name: str = "p",
         container: str = "main", conditions: list[dict] | None = None, restarts: int = 0) -> dict:
    state = {"terminated": {"exitCode": exit_code, "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ")}} \
        if finished else {"running": {}}
    return {"metadata": {"name": name, "namespace": "default"},
            "status": {"phase": phase, "conditions": conditions or [],
                       "containerStatuses": [{"name": container, "state": state, "restartCount": restarts}]}}


def _messages(errs: ErrorList) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in errs.causes]


# --- backoff ---------------------------------------------------------------------------------------

def test_backoff_doubles_from_ten_seconds_and_caps_at_six_minutes() -> None:
    assert [jp.backoff_delay(n) for n in range(8)] == [0, 10, 20, 40, 80, 160, 320, 360]
    assert jp.backoff_delay(30) == 360


def test_backoff_remaining_counts_from_the_last_failure() -> None:
    pods = [_pod("Failed", T0), _pod("Failed", T0 + timedelta(seconds=12))]
    # two failures: 20 s after the second one
    assert jp.backoff_remaining(pods, T0 + timedelta(seconds=17)) == pytest.approx(15)
    assert jp.backoff_remaining(pods, T0 + timedelta(seconds=40)) == 0


def test_a_success_resets_the_backoff() -> None:
    pods = [_pod("Failed", T0), _pod("Failed", T0 + timedelta(seconds=1)),
            _pod("Succeeded", T0 + timedelta(seconds=2), exit_code=0), _pod("Failed", T0 + timedelta(seconds=3))]
    assert jp.failures_after_last_success(pods)[0] == 1
    assert jp.backoff_remaining(pods, T0 + timedelta(seconds=5)) == pytest.approx(8)


def test_on_failure_counts_restarts_against_the_limit() -> None:
    assert not jp.restarts_past_limit([_pod("Running", restarts=1)], 2)
    assert jp.restarts_past_limit([_pod("Running", restarts=1), _pod("Running", restarts=1)], 2)
    assert jp.restarts_past_limit([_pod("Running", restarts=1)], 0)
    assert not jp.restarts_past_limit([_pod("Running")], 0)


# --- podFailurePolicy --------------------------------------------------------------------------------

POLICY = {"rules": [
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
    {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
]}


def test_failure_policy_fail_job_message_is_kubernetes_wording() -> None:
    pod = _pod("Failed", T0, exit_code=42, name="pi-abcde")
    assert jp.match_failure_policy(POLICY, pod) == (
        "FailJob", "Container main for pod default/pi-abcde failed with exit code 42 matching FailJob rule at index 1")


def test_failure_policy_conditions_and_not_in() -> None:
    disrupted = _pod("Failed", T0, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    assert jp.match_failure_policy(POLICY, disrupted)[0] == "Ignore"
    assert jp.match_failure_policy(POLICY, _pod("Failed", T0, exit_code=7))[0] == "Count"
    assert jp.match_failure_policy(POLICY, _pod("Failed", T0, exit_code=1)) is None
    other = _pod("Failed", T0, exit_code=42, container="sidecar")
    assert jp.match_failure_policy(POLICY, other)[0] == "Count"  # the FailJob rule names "main"


# --- indexes -------------------------------------------------------------------------------------------

def test_completed_indexes_format_round_trip() -> None:
    assert jp.format_indexes([4, 0, 1, 2, 7, 8]) == "0-2,4,7-8"
    assert jp.format_indexes([]) == ""
    assert jp.parse_indexes("0-2,4,7-8") == {0, 1, 2, 4, 7, 8}
    assert jp.parse_indexes("0-9", completions=3) == {0, 1, 2}


def test_pending_indexes_skip_done_and_running() -> None:
    assert jp.pending_indexes(6, {0, 2}, {1}, 2) == [3, 4]
    assert jp.pending_indexes(3, {0, 1, 2}, set(), 5) == []


def test_pod_index_reads_the_annotation() -> None:
    pod = {"metadata": {"annotations": {api_job.COMPLETION_INDEX_ANNOTATION: "3"}}}
    assert jp.pod_index(pod, 5) == 3
    assert jp.pod_index(pod, 3) is None


def test_wanted_active() -> None:
    assert jp.wanted_active({"parallelism": 3, "completions": 5}, 4, 0) == 1
    assert jp.wanted_active({"parallelism": 3, "completions": 5}, 0, 0) == 3
    assert jp.wanted_active({"parallelism": 2}, 0, 0) == 2
    assert jp.wanted_active({"parallelism": 2}, 1, 1) == 1  # work queue: no new pods after a success


# --- Job validation ---------------------------------------------------------------------------------

def _job(**spec: object) -> dict:
    base = {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    base.update(spec)
    obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "uid": "u-1"}, "spec": base}
    api_job.generate_selector(obj)
    return obj


def test_generated_selector_and_labels() -> None:
    job = _job()
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u-1", "job-name": "pi"}
    errs = ErrorList()
    api_job.validate_job(errs, job)
    assert errs.causes == []


def test_restart_policy_always_is_refused_as_kubernetes_does() -> None:
    for policy in ("Always", None):
        job = _job()
        job["spec"]["template"]["spec"]["restartPolicy"] = policy
        errs = ErrorList()
        api_job.validate_job(errs, job)
        assert _messages(errs) == [('spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", '
                                   '"Never"')]


def test_hand_written_selector_is_refused() -> None:
    obj = {"metadata": {"name": "pi", "uid": "u-1"},
           "spec": {"selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "x"}},
                                 "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b"}]}}}}
    api_job.generate_selector(obj)
    errs = ErrorList()
    api_job.validate_job(errs, obj)
    assert _messages(errs) == [('spec.selector: Invalid value: {"matchLabels":{"app":"x"}}: `selector` not '
                               'auto-generated')]


def test_manual_selector_must_match_the_template() -> None:
    obj = {"metadata": {"name": "pi", "uid": "u-1"},
           "spec": {"manualSelector": True, "selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "y"}},
                                 "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b"}]}}}}
    errs = ErrorList()
    api_job.validate_job(errs, obj)
    assert _messages(errs) == [('spec.template.metadata.labels: Invalid value: {"app":"y"}: `selector` does not '
                               'match template `labels`')]


def test_indexed_needs_completions_and_failure_policy_needs_never() -> None:
    errs = ErrorList()
    api_job.validate_job(errs, _job(completionMode="Indexed"))
    assert _messages(errs) == ["spec.completions: Required value: when completion mode is Indexed"]
    job = _job(podFailurePolicy={"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In",
                                                                                  "values": [0]}}]})
    job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    errs = ErrorList()
    api_job.validate_job(errs, job)
    assert _messages(errs) == [
        ('spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when '
        'podFailurePolicy is specified'),
        "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator"]


def test_job_update_immutables() -> None:
    old = _job()
    new = _job()
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    new["spec"]["completions"] = 3
    errs = ErrorList()
    api_job.validate_job_update(errs, old, new)
    fields = [c["field"] for c in errs.causes]
    assert fields == ["spec.completions", "spec.template"]
    assert all(c["message"].endswith("field is immutable") for c in errs.causes)


def test_job_defaults() -> None:
    job = _job()
    api_job.default_job(job)
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"], spec["completionMode"],
            spec["suspend"], spec["podReplacementPolicy"], spec["manualSelector"]) == (
        1, 1, 6, "NonIndexed", False, "TerminatingOrFailed", False)
    assert job["metadata"]["labels"]["job-name"] == "pi"
    work_queue = _job(parallelism=3)
    api_job.default_job(work_queue)
    assert "completions" not in work_queue["spec"]


def test_job_cells() -> None:
    now = T0 + timedelta(minutes=2)
    job = _job()
    api_job.default_job(job)
    job["metadata"]["creationTimestamp"] = "2026-03-01T12:00:00Z"
    job["status"] = {"succeeded": 1, "startTime": "2026-03-01T12:00:00Z", "completionTime": "2026-03-01T12:00:05Z",
                     "conditions": [{"type": "Complete", "status": "True"}]}
    assert api_job.job_cells(job, now)[:5] == ["pi", "Complete", "1/1", "5s", "2m"]
    job["status"] = {"startTime": "2026-03-01T12:00:00Z"}
    job["spec"].pop("completions")
    job["spec"]["parallelism"] = 3
    assert api_job.job_cells(job, now)[:4] == ["pi", "Running", "0/1 of 3", "2m"]
    job["status"]["conditions"] = [{"type": "FailureTarget", "status": "True"},
                                   {"type": "Failed", "status": "True"}]
    assert api_job.job_status_word(job) == "Failed"


# --- CronJob ---------------------------------------------------------------------------------------

def test_schedule_errors_use_the_go_parser_wording() -> None:
    assert api_cronjob.schedule_error("*/1 * * * *") is None
    assert api_cronjob.schedule_error("@hourly") is None
    assert api_cronjob.schedule_error("0 9 * * MON-FRI") is None
    assert api_cronjob.schedule_error("bad") == "expected exactly 5 fields, found 1: [bad]"
    assert api_cronjob.schedule_error("70 * * * *") == "end of range (70) above maximum (59): 70"
    assert api_cronjob.schedule_error("* * 0 * *") == "beginning of range (0) below minimum (1): 0"


def test_cronjob_validation() -> None:
    cj = {"metadata": {"name": "x" * 53},
          "spec": {"schedule": "TZ=UTC * * * * *", "timeZone": "Mars/Olympus", "concurrencyPolicy": "Sometimes",
                   "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Always",
                                                                  "containers": [{"name": "c", "image": "b"}]}}}}}}
    errs = ErrorList()
    api_cronjob.validate_cronjob(errs, cj)
    assert _messages(errs) == [
        f'metadata.name: Invalid value: "{"x" * 53}": must be no more than 52 characters',
        ('spec.schedule: Invalid value: "TZ=UTC * * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone '
        'field instead'),
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    ]


def test_cronjob_cells() -> None:
    cj = {"metadata": {"name": "hello", "creationTimestamp": "2026-03-01T12:00:00Z"},
          "spec": {"schedule": "*/1 * * * *", "suspend": False,
                   "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "b"}]}}}}},
          "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": "2026-03-01T12:01:00Z"}}
    assert api_cronjob.cronjob_cells(cj, T0 + timedelta(seconds=90)) == [
        "hello", "*/1 * * * *", "<none>", "False", 1, "30s", "90s", "c", "b", "<none>"]


def test_most_recent_schedule_and_missed_count() -> None:
    latest, missed = cs.most_recent_schedule("*/1 * * * *", UTC, T0, T0 + timedelta(seconds=59))
    assert (latest, missed) == (None, 0)
    latest, missed = cs.most_recent_schedule("*/1 * * * *", UTC, T0, T0 + timedelta(minutes=1))
    assert (latest, missed) == (T0 + timedelta(minutes=1), 1)
    latest, missed = cs.most_recent_schedule("*/1 * * * *", UTC, T0, T0 + timedelta(minutes=5, seconds=3))
    assert (latest, missed) == (T0 + timedelta(minutes=5), 5)  # only the latest is run
    latest, missed = cs.most_recent_schedule("* * * * *", UTC, T0, T0 + timedelta(hours=3))
    assert latest == T0 + timedelta(hours=3) and missed > cs.MAX_MISSED


def test_starting_deadline_moves_the_window_and_marks_too_late() -> None:
    cj = {"metadata": {"creationTimestamp": "2026-03-01T12:00:00Z"}, "spec": {"startingDeadlineSeconds": 30},
          "status": {}}
    now = T0 + timedelta(hours=5)
    assert cs.earliest_time(cj, now) == now - timedelta(seconds=30)
    assert cs.too_late(T0, T0 + timedelta(seconds=31), 30)
    assert not cs.too_late(T0, T0 + timedelta(seconds=30), 30)
    assert not cs.too_late(T0, T0 + timedelta(days=3), None)


def test_time_zone_and_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 09:00 Berlin is 08:00 UTC in winter, 07:00 UTC in summer
    assert cs.next_schedule("0 9 * * *", berlin, datetime(2026, 3, 28, 12, tzinfo=UTC)) == \
        datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert cs.next_schedule("0 9 * * *", berlin, datetime(2026, 1, 10, 12, tzinfo=UTC)) == \
        datetime(2026, 1, 11, 8, tzinfo=UTC)
    assert cs.rfc3339(datetime(2026, 1, 11, 8, tzinfo=UTC), berlin) == "2026-01-11T09:00:00+01:00"
    assert cs.rfc3339(datetime(2026, 1, 11, 8, tzinfo=UTC), UTC) == "2026-01-11T08:00:00Z"


def test_job_names_encode_the_scheduled_minute() -> None:
    name = cs.job_name("hello", T0)
    assert name == f"hello-{int(T0.timestamp()) // 60}"
    assert cs.scheduled_time_of(name, "hello") == T0
    assert cs.scheduled_time_of("other-123", "hello") is None


def test_history_pruning_keeps_the_newest() -> None:
    def job(n: int, kind: str) -> dict:
        return {"metadata": {"name": f"j{n}"}, "status": {"startTime": f"2026-03-01T12:0{n}:00Z",
                                                          "conditions": [{"type": kind, "status": "True"}]}}
    jobs = [job(i, "Complete") for i in range(5)] + [job(5, "Failed"), job(6, "Failed")]
    assert [j["metadata"]["name"] for j in cs.jobs_to_prune(jobs, 3, 1)] == ["j0", "j1", "j5"]
    assert cs.jobs_to_prune(jobs, None, None) == []
