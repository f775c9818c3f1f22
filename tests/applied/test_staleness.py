"""The stale verdict with an injected clock: DST days, a weekly schedule, jitter, disabled,
never ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import entry_of, timetable_of

from sqlsentinel.applied.staleness import Staleness, staleness, timetable_staleness
from sqlsentinel.config.loader import load_file
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec, stale_grace
from sqlsentinel.schedule.timer import Timer
from sqlsentinel.schedule.translate import translate

LONDON = ZoneInfo("Europe/London")


def alert(cron: str, zone: str = "UTC", **changes: object) -> AlertSpec:
    """An alert as the config compiles it (the timer's calendar zone from the translation)."""
    t = translate(cron, zone, now=datetime(2026, 1, 1, tzinfo=UTC))
    fields: dict[str, object] = {"calendar_zone": t.calendar_zone, "minute_shift": t.minute_shift}
    fields.update(changes)
    return AlertSpec("a", "SELECT 1", cron, DatabaseSpec("sqlite://"), timezone=zone, **fields)  # type: ignore[arg-type]


def verdict(
    a: AlertSpec, ran: datetime | None, applied: datetime | None, now: datetime, offset: float = 0.0
) -> Staleness:
    """How `a` (its timetable entry, with `offset` on this host) stands at `now`."""
    return staleness(entry_of(a, offset), ran, applied, now)


def london(text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON, fold=fold).astimezone(UTC)


def test_fall_back_the_repeated_hour_is_silent() -> None:
    """Europe/London, 25 Oct 2026: 01:30 happens twice; the timer fires at the first only."""
    a = alert("30 1 * * *", "Europe/London")
    first, second = london("2026-10-25T01:30"), london("2026-10-25T01:30", fold=1)
    assert second - first == timedelta(hours=1)
    timer = Timer.of(a)
    assert timer.latest_at_or_before(second + timedelta(minutes=5)) == first
    # a manual run inside the repeated hour, before its 01:30: the next tick is tomorrow's
    manual = london("2026-10-25T01:10", fold=1)
    s = verdict(a, manual, None, second + timedelta(hours=3))
    assert (s.due, s.stale) == (london("2026-10-26T01:30"), False)
    # missing the first 01:30 is noticed at 01:30 + grace, in the repeated hour
    s = verdict(a, first - timedelta(days=1), None, first + timedelta(seconds=90))
    assert (s.stale, s.missed_tick) == (True, first)


def test_spring_forward_a_skipped_time_is_never_due() -> None:
    """Europe/London, 29 Mar 2026: 01:30 does not exist, so that day has no run."""
    a = alert("30 1 * * *", "Europe/London")
    ran = london("2026-03-28T01:30:04")
    evening = london("2026-03-29T23:00")
    s = verdict(a, ran, None, evening)
    assert (s.stale, s.due) == (False, london("2026-03-30T01:30"))
    assert s.seconds_since_last_run == pytest.approx((evening - ran).total_seconds())
    late = london("2026-03-30T01:31:30")
    assert verdict(a, ran, None, late).missed_tick == london("2026-03-30T01:30")


def test_minute_schedules_in_a_zone_count_real_minutes_across_dst() -> None:
    a = alert("*/15 * * * *", "Europe/London")  # emitted in UTC: every real quarter hour
    ran = london("2026-10-25T01:45:03")  # BST
    assert verdict(a, ran, None, ran + timedelta(minutes=16)).stale is False
    s = verdict(a, ran, None, ran + timedelta(minutes=16, seconds=30))
    assert s.missed_tick == london("2026-10-25T01:00", fold=1)  # 15 real minutes later (GMT)


def test_weekly_schedule() -> None:
    a = alert("0 9 * * 1", timeout=10.0)  # Mondays 09:00; grace 70 s
    ran = datetime(2026, 3, 2, 9, 0, 4, tzinfo=UTC)
    next_monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert verdict(a, ran, None, next_monday - timedelta(hours=1)).stale is False
    assert verdict(a, ran, None, next_monday + timedelta(seconds=69)).stale is False
    s = verdict(a, ran, None, next_monday + timedelta(seconds=70))
    assert (s.stale, s.missed_tick, s.grace) == (True, next_monday, 70.0)
    assert s.describe() == (
        "missed its run at 2026-03-09 09:00:00 UTC; last run 2026-03-02 09:00:04 UTC "
        "(stale 70s after a tick without a run)"
    )
    # a week later it still names the first run it missed
    assert verdict(a, ran, None, next_monday + timedelta(days=8)).missed_tick == next_monday


def test_jitter_offset_moves_every_tick() -> None:
    a = alert("0 * * * *", jitter=30.0, stale_after=5.0)
    ran = datetime(2026, 5, 1, 10, 0, 25, tzinfo=UTC)  # the 10:00 tick, offset 20 s
    tick = datetime(2026, 5, 1, 11, 0, 20, tzinfo=UTC)
    assert verdict(a, ran, None, tick + timedelta(seconds=4), offset=20.0).stale is False
    assert verdict(a, ran, None, tick + timedelta(seconds=5), offset=20.0).missed_tick == tick
    # a run that ended between the tick and the offset belongs to the earlier tick
    early = datetime(2026, 5, 1, 11, 0, 10, tzinfo=UTC)
    assert verdict(a, early, None, tick + timedelta(seconds=5), offset=20.0).missed_tick == tick


def test_disabled_alerts_are_never_stale(tmp_path: Path) -> None:
    """A disabled alert has no timetable entry: it is not checked."""
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nalerts:\n"
        "  - {name: running, query: SELECT 1, schedule: '* * * * *'}\n"
        "  - {name: paused, query: SELECT 1, schedule: '* * * * *', enabled: false}\n"
    )
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    table = timetable_of(load_file(str(config)), long_ago)
    runs = {"running": long_ago, "paused": long_ago}
    found = timetable_staleness(table, runs, datetime(2026, 1, 1, tzinfo=UTC))
    assert [(s.alert, s.stale) for s in found] == [("running", True)]
    assert [(a.name, a.reason) for a in table.not_scheduled] == [("paused", "disabled")]


def test_never_ran_counts_from_the_apply_and_not_without_one() -> None:
    a = alert("0 * * * *")  # grace: 30 s timeout + 60 s
    applied = datetime(2026, 5, 1, 8, 59, tzinfo=UTC)
    nine = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    assert verdict(a, None, applied, nine + timedelta(seconds=89)).stale is False
    s = verdict(a, None, applied, nine + timedelta(seconds=90))
    assert (s.stale, s.missed_tick, s.seconds_since_last_run) == (True, nine, None)
    assert s.describe().startswith("missed its run at 2026-05-01 09:00:00 UTC; it never ran")
    assert verdict(a, None, None, nine + timedelta(days=30)).stale is False


def test_the_grace_is_stale_after_or_timeout_plus_a_minute() -> None:
    assert stale_grace(alert("* * * * *", timeout=45.0)) == 105.0
    assert stale_grace(alert("* * * * *", timeout=45.0, stale_after=10.0)) == 10.0
