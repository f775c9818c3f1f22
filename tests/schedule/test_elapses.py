"""Cron fire times and timer elapses against croniter (a second, independent oracle), by hand."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from cron_corpus import CORPUS
from cron_oracle import MONTHS, NOW, WEEKDAYS, cron_expressions
from croniter import CroniterError, croniter
from hypothesis import given, settings

from sqlsentinel.schedule.elapses import (
    HORIZON_YEAR,
    CronSchedule,
    calendar_for,
    constant_subhour_offset,
)
from sqlsentinel.schedule.timer import Timer


def croniter_diverges(expr: str) -> bool:
    """croniter's documented divergences from cronie (docs/scheduling.md)."""
    fields = expr.split()
    if len(fields) != 5:
        return False
    day_star_list = any("*" in f and f != "*" for f in (fields[2], fields[4]))
    equal_range = any(
        _number(a) % 7 == _number(b) % 7 if i == 4 else _number(a) == _number(b)
        for i, text in enumerate(fields)
        for a, b in re.findall(r"(\w+)-(\w+)", text)
    )
    weekday_last_suffix = re.search(r"\w+L\b", fields[4]) is not None
    return day_star_list or equal_range or weekday_last_suffix


def _number(token: str) -> int:
    lower = token.lower()
    for names, base in ((MONTHS, 1), (WEEKDAYS, 0)):
        if lower in names:
            return names.index(lower) + base
    return int(token)


def croniter_runs(expr: str, count: int) -> list[datetime]:
    it = croniter(expr, NOW)
    runs = [it.get_next(datetime).astimezone(UTC) for _ in range(count)]
    return [t for t in runs if t.year <= HORIZON_YEAR]  # systemd's (and the reference's) end


def reference_runs(expr: str, count: int) -> list[datetime]:
    return list(islice(CronSchedule.from_text(expr).iter_after(NOW), count))


AGREED = [expr for _, expr, lines, _ in CORPUS if lines is not None and not croniter_diverges(expr)]


@pytest.mark.parametrize("expr", AGREED)
def test_corpus_agrees_with_croniter_in_utc(expr: str) -> None:
    assert reference_runs(expr, 200) == croniter_runs(expr, 200)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(cron_expressions)
def test_generated_expressions_agree_with_croniter(expr: str) -> None:
    if croniter_diverges(expr):
        return
    try:
        expected = croniter_runs(expr, 30)
    except CroniterError:  # e.g. `0,1#1`: croniter cannot mix plain weekdays with `#`
        return
    assert reference_runs(expr, 30) == expected


@pytest.mark.parametrize(
    ("expr", "first_runs"),
    [
        # Vixie AND (day-of-month starts with `*`): odd days that are Mondays; croniter ORs
        ("0 0 */2 * 1", ["2026-01-05", "2026-01-19", "2026-02-09"]),
        # OR with a full day-of-month because `10,*` does not start with `*`: every day
        ("0 12 10,* * 2", ["2026-01-01", "2026-01-02", "2026-01-03"]),
        # `5-5` is minute 5 only (croniter: every minute)
        ("5-5 0 * * *", ["2026-01-01", "2026-01-02", "2026-01-03"]),
        # `fri-sun` is `5-0`, read as `5-7`
        ("0 0 * * fri-sun", ["2026-01-02", "2026-01-03", "2026-01-04"]),
    ],
)
def test_cronie_semantics_where_croniter_differs(expr: str, first_runs: list[str]) -> None:
    assert [t.date().isoformat() for t in reference_runs(expr, 3)] == first_runs


def test_never_again_after_the_horizon() -> None:
    schedule = CronSchedule.from_text("0 0 29 2 *")
    assert schedule.next_after(datetime(2196, 3, 1, tzinfo=UTC)) is None
    assert schedule.next_after(datetime(2195, 1, 1, tzinfo=UTC)) == datetime(
        2196, 2, 29, tzinfo=UTC
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CronSchedule.from_text("@hourly").next_after(datetime(2026, 1, 1))


def test_day_matching_extensions() -> None:
    last_friday = CronSchedule.from_text("0 0 * * L5")
    assert last_friday.day_matches(date(2026, 1, 30))
    assert not last_friday.day_matches(date(2026, 1, 23))
    third_friday = CronSchedule.from_text("0 0 * * 5#3")
    assert third_friday.day_matches(date(2026, 1, 16))
    assert not third_friday.day_matches(date(2026, 1, 9))
    assert CronSchedule.from_text("0 0 L 2 *").day_matches(date(2028, 2, 29))
    assert not CronSchedule.from_text("0 0 L 2 *").day_matches(date(2028, 2, 28))


def test_minute_only() -> None:
    assert CronSchedule.from_text("*/5 * * * *").minute_only
    assert CronSchedule.from_text("0 * 1-30,L * *").minute_only  # every day, via `L`
    assert CronSchedule.from_text("0 * 1-31 * 1").minute_only  # OR with a full day-of-month
    assert not CronSchedule.from_text("0 * 1-30 * *").minute_only
    assert not CronSchedule.from_text("0 0-22 * * *").minute_only


def test_constant_subhour_offset() -> None:
    assert constant_subhour_offset("America/New_York", 2026) == 0
    assert constant_subhour_offset("Australia/Adelaide", 2026) == 30
    assert constant_subhour_offset("Asia/Kathmandu", 2026) == 45
    assert constant_subhour_offset("Australia/Lord_Howe", 2026) is None


NEW_YORK = ZoneInfo("America/New_York")


def test_the_timer_skips_the_gap_and_fires_the_repeated_time_once() -> None:
    model = Timer.in_zone("30 1,2 * * *", "America/New_York")
    spring = [t.astimezone(NEW_YORK) for t in islice(model.iter_after(NOW), 200)]
    assert datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK) in spring
    assert not any(t.date() == date(2026, 3, 8) and t.hour == 2 for t in spring)
    fall = list(islice(model.iter_after(datetime(2026, 11, 1, 4, tzinfo=UTC)), 2))
    assert fall == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 7, 30, tzinfo=UTC),
    ]


def test_the_timer_from_inside_the_repeated_hour_takes_the_second_pass() -> None:
    model = Timer.in_zone("*/15 * * * 0", "America/New_York")
    runs = list(islice(model.iter_after(datetime(2026, 11, 1, 6, 20, tzinfo=UTC)), 3))
    assert runs == [
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 45, tzinfo=UTC),
        datetime(2026, 11, 1, 7, 0, tzinfo=UTC),
    ]


def test_a_minute_only_timer_fires_every_real_minute() -> None:
    schedule = CronSchedule.from_text("0 * * * *")
    assert calendar_for(schedule, "Australia/Adelaide", 2026) == ("UTC", 30)  # +9:30/+10:30
    model = Timer.in_zone("0 * * * *", "Australia/Adelaide")
    runs = list(islice(model.iter_after(datetime(2026, 4, 4, 14, tzinfo=UTC)), 3))
    assert [t.minute for t in runs] == [30, 30, 30]
    assert runs[1] - runs[0] == runs[2] - runs[1]
