"""The one timer type: elapses with the host's offset, the elapse at or before a moment
(against croniter and by hand), the chain across DST, and the round trip through the
timetable's JSON."""

from __future__ import annotations

import ast
import contextlib
import json
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import pytest
from cron_corpus import CORPUS
from cron_oracle import cron_expressions
from croniter import CroniterError, croniter
from hypothesis import given, settings
from hypothesis import strategies as st
from test_elapses import croniter_diverges

from sqlsentinel.schedule.timer import Timer
from sqlsentinel.schedule.translate import translate

PACKAGE = Path(__file__).resolve().parents[2] / "sqlsentinel"
AGREED = [e for _, e, lines, _ in CORPUS if lines is not None and not croniter_diverges(e)]


def utc_timer(expr: str) -> Timer:
    return Timer(expr)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_instant_includes_the_offset() -> None:
    timer = Timer("0 * * * *", offset=20.5)
    assert timer.next_after(utc(2026, 5, 1, 10)) == utc(2026, 5, 1, 10, 0, 20, 500000)
    assert timer.next_after(utc(2026, 5, 1, 10, 0, 21)) == utc(2026, 5, 1, 11, 0, 20, 500000)
    assert timer.latest_at_or_before(utc(2026, 5, 1, 10, 0, 20)) == utc(
        2026, 5, 1, 9, 0, 20, 500000
    )
    assert timer.latest_at_or_before(utc(2026, 5, 1, 10, 0, 21)) == utc(
        2026, 5, 1, 10, 0, 20, 500000
    )


def test_the_translation_hands_over_its_timer_and_the_zone_decides_alike() -> None:
    now = utc(2026, 1, 1)
    for cron, zone in (("0 * * * *", "Australia/Adelaide"), ("30 2 * * *", "Europe/Berlin")):
        t = translate(cron, zone, now=now)
        assert t.timer(3.0) == Timer.in_zone(cron, zone, now=now, offset=3.0)
        assert t.timer().parsed is t.parsed  # parsed once, by the translation
    adelaide = Timer.in_zone("0 * * * *", "Australia/Adelaide", now=now)
    assert (adelaide.calendar_zone, adelaide.minute_shift) == ("UTC", 30)
    assert [t.minute for t in islice(adelaide.iter_after(now), 3)] == [30, 30, 30]


def test_the_chain_keeps_the_repeated_hour_silent() -> None:
    """Europe/London, 25 Oct 2026: 01:30 local happens twice; the timer fires at the first."""
    timer = Timer.in_zone("30 1 * * *", "Europe/London", now=utc(2026, 1, 1))
    first, second = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)
    assert timer.latest_at_or_before(second + timedelta(minutes=5)) == first
    inside = utc(2026, 10, 25, 1, 10)  # in the repeated hour, before its second 01:30
    assert timer.next_in_chain(inside) == utc(2026, 10, 26, 1, 30)


def test_round_trip_through_json() -> None:
    timer = translate("*/15 * * * 0", "America/New_York").timer(12.25)
    back = Timer.from_json(json.loads(json.dumps(timer.to_json())))
    assert back == timer
    assert list(islice(back.iter_after(utc(2026, 11, 1, 4)), 5)) == list(
        islice(timer.iter_after(utc(2026, 11, 1, 4)), 5)
    )


def test_only_the_timer_builds_a_calendar_enumerator() -> None:
    """No module but schedule/timer.py (and its own module) constructs a CalendarTimer."""
    builders = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "CalendarTimer":
                builders.add(path.relative_to(PACKAGE).as_posix())
    assert builders == {"schedule/timer.py"}


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
