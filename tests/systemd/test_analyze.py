"""The systemd-analyze wrapper and `verify_with_systemd` (systemd-analyze is required)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlsentinel.schedule.translate import Translation, translate
from sqlsentinel.systemd import analyze as systemd_calendar
from sqlsentinel.systemd.analyze import verify_with_systemd

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def test_systemd_analyze_is_installed() -> None:
    assert systemd_calendar.available(), "install systemd (systemd-analyze) to run the proof"


def test_check_lines_reports_what_systemd_drops() -> None:
    good = "*-*-* *:00..55/5:00 UTC"
    problems = systemd_calendar.check_lines([good, "*:55/10", "*-*-* 00:00:00 Foo/Bar"])
    assert problems == [
        ("*:55/10", "Invalid argument"),
        ("*-*-* 00:00:00 Foo/Bar", "Invalid argument"),
    ]
    assert systemd_calendar.check_lines([]) == []


def test_next_elapses_in_utc_and_in_a_zone() -> None:
    utc, never = systemd_calendar.next_elapses(
        ["*-*-* 12:00:00", "*-02-30 00:00:00"], base=BASE, iterations=2
    )
    assert utc == [datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(2026, 1, 2, 12, tzinfo=UTC)]
    assert never == []
    (zoned,) = systemd_calendar.next_elapses(
        ["*-*-* 12:00:00"], base=BASE, iterations=1, zone="America/New_York"
    )
    assert zoned == [datetime(2026, 1, 1, 17, tzinfo=UTC)]


def test_verify_with_systemd_accepts_translations_and_names_bad_lines() -> None:
    good = [translate(c, z) for c in ("@hourly", "0 9 * * L5") for z in ("UTC", "Europe/London")]
    assert verify_with_systemd(good) == []
    bad = Translation("0 0 * * *", "UTC", ("*-*-* 00:00:00 Foo/Bar",), ())
    assert verify_with_systemd([*good, bad]) == [
        "systemd-analyze cannot parse `OnCalendar=*-*-* 00:00:00 Foo/Bar` "
        "(from `0 0 * * *`): Invalid argument"
    ]
