"""When an alert missed a run: the elapse before a moment, against croniter and by hand, and
the stale verdict with an injected clock (DST days, a weekly schedule, jitter, disabled,
never ran)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cron_corpus import CORPUS
from cron_oracle import cron_expressions
from croniter import CroniterError, croniter
from hypothesis import given, settings
from hypothesis import strategies as st
from test_elapses import croniter_diverges

from sqlsentinel.core.spec import AlertSpec, DatabaseSpec, stale_grace
from sqlsentinel.schedule.missed import staleness
from sqlsentinel.schedule.timer import Timer
from sqlsentinel.schedule.translate import translate

LONDON = ZoneInfo("Europe/London")
AGREED = [e for _, e, lines, _ in CORPUS if lines is not None and not croniter_diverges(e)]


def alert(cron: str, zone: str = "UTC", **changes: object) -> AlertSpec:
    """An alert as the config compiles it (the timer's calendar zone from the translation)."""
    t = translate(cron, zone, now=datetime(2026, 1, 1, tzinfo=UTC))
    fields: dict[str, object] = {"calendar_zone": t.calendar_zone, "minute_shift": t.minute_shift}
    fields.update(changes)
    return AlertSpec("a", "SELECT 1", cron, DatabaseSpec("sqlite://"), timezone=zone, **fields)  # type: ignore[arg-type]


def utc_timer(expr: str) -> Timer:
    return Timer(expr)


def london(text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON, fold=fold).astimezone(UTC)


@pytest.mark.parametrize("expr", AGREED)
def test_latest_elapse_matches_croniter_get_prev(expr: str) -> None:
    for t in (
        datetime(2026, 7, 14, 13, 37, 30, tzinfo=UTC),
        datetime(2031, 2, 28, 23, 59, 59, tzinfo=UTC),
    ):
        expected = croniter(expr, t).get_prev(datetime).astimezone(UTC)
        assert utc_timer(expr).latest_at_or_before(t) == expected, (expr, t)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(cron_expressions, st.integers(0, 10 * 366 * 86400))
def test_latest_elapse_is_the_last_one_up_to_t(expr: str, offset: int) -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=offset, microseconds=1)
    timer = utc_timer(expr)
    found = timer.latest_at_or_before(t)
    if not croniter_diverges(expr):
        with contextlib.suppress(CroniterError):
            assert found == croniter(expr, t).get_prev(datetime).astimezone(UTC)
    assert found is not None and found <= t
    following = timer.next_after(found)
    assert following is None or following > t


def test_an_exact_elapse_is_its_own_latest() -> None:
    t = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert utc_timer("0 9 * * 1").latest_at_or_before(t) == t
    assert utc_timer("0 9 * * 1").latest_at_or_before(
        t - timedelta(microseconds=1)
    ) == t - timedelta(days=7)


def test_fall_back_the_repeated_hour_is_silent() -> None:
    """Europe/London, 25 Oct 2026: 01:30 happens twice; the timer fires at the first only."""
    a = alert("30 1 * * *", "Europe/London")
    first, second = london("2026-10-25T01:30"), london("2026-10-25T01:30", fold=1)
    assert second - first == timedelta(hours=1)
    timer = Timer.of(a)
    assert timer.latest_at_or_before(second + timedelta(minutes=5)) == first
    # a manual run inside the repeated hour, before its 01:30: the next tick is tomorrow's
    manual = london("2026-10-25T01:10", fold=1)
    s = staleness(a, manual, None, 0.0, second + timedelta(hours=3))
    assert (s.due, s.stale) == (london("2026-10-26T01:30"), False)
    # missing the first 01:30 is noticed at 01:30 + grace, in the repeated hour
    s = staleness(a, first - timedelta(days=1), None, 0.0, first + timedelta(seconds=90))
    assert (s.stale, s.missed_tick) == (True, first)


def test_spring_forward_a_skipped_time_is_never_due() -> None:
    """Europe/London, 29 Mar 2026: 01:30 does not exist, so that day has no run."""
    a = alert("30 1 * * *", "Europe/London")
    ran = london("2026-03-28T01:30:04")
    evening = london("2026-03-29T23:00")
    s = staleness(a, ran, None, 0.0, evening)
    assert (s.stale, s.due) == (False, london("2026-03-30T01:30"))
    assert s.seconds_since_last_run == pytest.approx((evening - ran).total_seconds())
    late = london("2026-03-30T01:31:30")
    assert staleness(a, ran, None, 0.0, late).missed_tick == london("2026-03-30T01:30")


def test_minute_schedules_in_a_zone_count_real_minutes_across_dst() -> None:
    a = alert("*/15 * * * *", "Europe/London")  # emitted in UTC: every real quarter hour
    ran = london("2026-10-25T01:45:03")  # BST
    assert staleness(a, ran, None, 0.0, ran + timedelta(minutes=16)).stale is False
    s = staleness(a, ran, None, 0.0, ran + timedelta(minutes=16, seconds=30))
    assert s.missed_tick == london("2026-10-25T01:00", fold=1)  # 15 real minutes later (GMT)


def test_weekly_schedule() -> None:
    a = alert("0 9 * * 1", timeout=10.0)  # Mondays 09:00; grace 70 s
    ran = datetime(2026, 3, 2, 9, 0, 4, tzinfo=UTC)
    next_monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert staleness(a, ran, None, 0.0, next_monday - timedelta(hours=1)).stale is False
    assert staleness(a, ran, None, 0.0, next_monday + timedelta(seconds=69)).stale is False
    s = staleness(a, ran, None, 0.0, next_monday + timedelta(seconds=70))
    assert (s.stale, s.missed_tick, s.grace) == (True, next_monday, 70.0)
    assert s.describe() == (
        "missed its run at 2026-03-09 09:00:00 UTC; last run 2026-03-02 09:00:04 UTC "
        "(stale 70s after a tick without a run)"
    )
    # a week later it still names the first run it missed
    assert staleness(a, ran, None, 0.0, next_monday + timedelta(days=8)).missed_tick == next_monday


def test_jitter_offset_moves_every_tick() -> None:
    a = alert("0 * * * *", jitter=30.0, stale_after=5.0)
    ran = datetime(2026, 5, 1, 10, 0, 25, tzinfo=UTC)  # the 10:00 tick, offset 20 s
    tick = datetime(2026, 5, 1, 11, 0, 20, tzinfo=UTC)
    assert staleness(a, ran, None, 20.0, tick + timedelta(seconds=4)).stale is False
    assert staleness(a, ran, None, 20.0, tick + timedelta(seconds=5)).missed_tick == tick
    # a run that ended between the tick and the offset belongs to the earlier tick
    early = datetime(2026, 5, 1, 11, 0, 10, tzinfo=UTC)
    assert staleness(a, early, None, 20.0, tick + timedelta(seconds=5)).missed_tick == tick


def test_disabled_alerts_are_never_stale() -> None:
    a = alert("* * * * *", enabled=False)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    s = staleness(a, long_ago, long_ago, 0.0, datetime(2026, 1, 1, tzinfo=UTC))
    assert (s.stale, s.due, s.missed_tick) == (False, None, None)


def test_never_ran_counts_from_the_apply_and_not_without_one() -> None:
    a = alert("0 * * * *")  # grace: 30 s timeout + 60 s
    applied = datetime(2026, 5, 1, 8, 59, tzinfo=UTC)
    nine = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    assert staleness(a, None, applied, 0.0, nine + timedelta(seconds=89)).stale is False
    s = staleness(a, None, applied, 0.0, nine + timedelta(seconds=90))
    assert (s.stale, s.missed_tick, s.seconds_since_last_run) == (True, nine, None)
    assert s.describe().startswith("missed its run at 2026-05-01 09:00:00 UTC; it never ran")
    assert staleness(a, None, None, 0.0, nine + timedelta(days=30)).stale is False


def test_the_grace_is_stale_after_or_timeout_plus_a_minute() -> None:
    assert stale_grace(alert("* * * * *", timeout=45.0)) == 105.0
    assert stale_grace(alert("* * * * *", timeout=45.0, stale_after=10.0)) == 10.0
