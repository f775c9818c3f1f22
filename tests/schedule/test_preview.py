"""The schedule preview rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlsentinel.schedule.preview import preview

NOW = datetime(2026, 11, 1, 4, 50, tzinfo=UTC)  # 00:50 EDT on New York's fall-back day


def test_rows_carry_lines_next_runs_and_warnings() -> None:
    (row,) = preview([("late-orders", "30 1 * * *", "America/New_York")], 3, NOW)
    assert row == {
        "alert": "late-orders",
        "cron": "30 1 * * *",
        "timezone": "America/New_York",
        "on_calendar": ["*-*-* 01:30:00 America/New_York"],
        "offset": 0.0,
        # once on the fall-back day (01:30 EDT), not again at 01:30 EST
        "next": ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", "2026-11-03T06:30:00Z"],
        "next_local": [
            "2026-11-01T01:30:00-04:00",
            "2026-11-02T01:30:00-05:00",
            "2026-11-03T01:30:00-05:00",
        ],
        "warnings": [
            "on 2026-11-01 America/New_York repeats 01:00-02:00 (EDT, then EST): the run at "
            "01:30 fires only once, at the first occurrence (EDT), not again in EST"
        ],
        "error": None,
    }
    json.dumps(row)


def test_repeated_hour_is_silent_for_zoned_schedules_but_not_for_minute_only_ones() -> None:
    zoned, minute_only = preview(
        [("a", "0 * * * 0", "America/New_York"), ("b", "0 * * * *", "America/New_York")], 3, NOW
    )
    assert zoned["next"] == ["2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"]
    assert minute_only["on_calendar"] == ["*-*-* *:00:00 UTC"]
    assert minute_only["next"] == [
        "2026-11-01T05:00:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T07:00:00Z",
    ]
    assert minute_only["next_local"][1] == "2026-11-01T01:00:00-05:00"


def test_default_zone_is_utc() -> None:
    (row,) = preview([("a", "@daily", None)], 1, NOW)
    assert row["timezone"] == "UTC"
    assert row["next"] == ["2026-11-02T00:00:00Z"]
    assert row["next_local"] == ["2026-11-02T00:00:00+00:00"]


def test_rejected_schedule_gives_an_error_and_no_runs() -> None:
    (row,) = preview([("boot", "@reboot", None)], 5, NOW)
    assert row["error"].startswith("`@reboot` has no calendar equivalent")
    assert row["on_calendar"] == row["next"] == row["next_local"] == row["warnings"] == []


def test_rejected_zone_gives_an_error() -> None:
    (row,) = preview([("a", "@daily", "Mars/Olympus")], 5, NOW)
    assert row["error"] == (
        "unknown time zone `Mars/Olympus`; use an IANA name such as `Europe/London`, or `UTC`"
    )


def test_a_jitter_offset_delays_every_run_and_keeps_a_run_not_yet_started() -> None:
    offset = timedelta(seconds=42, microseconds=5)
    (row,) = preview([("x", "*/15 * * * *", None)], 2, NOW, {"x": offset})
    assert row["offset"] == 42.000005
    assert row["next"] == ["2026-11-01T05:00:42.000005Z", "2026-11-01T05:15:42.000005Z"]
    (late,) = preview([("x", "*/15 * * * *", None)], 1, NOW, {"x": timedelta(minutes=10)})
    assert late["next"] == ["2026-11-01T04:55:00Z"]  # 04:45's run, 10 minutes late, is ahead
