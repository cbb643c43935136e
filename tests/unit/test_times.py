"""api/times.py: Kubernetes' Time written and read in one place."""

from datetime import UTC, datetime, timedelta, timezone

from minikube_lite.api.times import now_rfc3339, parse_time, rfc3339


def test_written_in_utc_to_the_second_and_read_back_aware() -> None:
    t = datetime(2024, 5, 1, 12, 0, 30, 999_000, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(t) == "2024-05-01T10:00:30Z"  # another zone: converted, not relabelled
    assert rfc3339(datetime(2024, 5, 1, 10, 0, 30)) == "2024-05-01T10:00:30Z"  # naive: taken as UTC
    assert rfc3339(1714557630.9) == "2024-05-01T10:00:30Z"  # seconds since the epoch
    assert parse_time("2024-05-01T10:00:30Z") == datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)
    assert parse_time("2024-05-01T10:00:30.123456z") == datetime(2024, 5, 1, 10, 0, 30, 123456, tzinfo=UTC)
    assert parse_time("2024-05-01T12:00:30+02:00") == datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)
    assert parse_time("2024-05-01T10:00:30") == datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)  # no zone: UTC
    for bad in (None, "", "yesterday", 1714557630):
        assert parse_time(bad) is None
    assert abs(parse_time(now_rfc3339()) - datetime.now(UTC)) < timedelta(seconds=2)  # type: ignore[operator]
