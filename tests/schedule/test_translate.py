"""Translation: the corpus lines, field semantics, formatting and day-field warnings."""

from __future__ import annotations

import pytest
from cron_corpus import CORPUS
from cron_oracle import NOW

from sqlsentinel.schedule.oncalendar import format_numbers, format_weekdays
from sqlsentinel.schedule.translate import ScheduleError, translate


@pytest.mark.parametrize(("cid", "expr", "lines", "reason"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(cid: str, expr: str, lines: tuple[str, ...] | None, reason: str) -> None:
    if lines is None:
        with pytest.raises(ScheduleError) as caught:
            translate(expr, now=NOW)
        assert caught.value.reason.startswith(reason)
    else:
        assert translate(expr, now=NOW).on_calendar == lines


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 jan *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),  # Sunday, not systemd's Monday `weekly`
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 0 * * fri-sun", "0 0 * * 5-7"),
        ("0 0 * * 5-0", "0 0 * * 5-7"),
        ("0 0 * JAN-Mar MON", "0 0 * 1-3 1"),
        ("5-5 * * * *", "5 * * * *"),
        ("0 0 ? * mon", "0 0 * * 1"),
        ("0 0 * * *", "0 0 * * ?"),
        ("0 0 * * 5L", "0 0 * * L5"),
        ("0 0 * * fri#3", "0 0 * * 5#3"),
        ("0-59/7 * * * *", "*/7 * * * *"),
    ],
)
def test_equivalent_spellings(left: str, right: str) -> None:
    assert translate(left, now=NOW).on_calendar == translate(right, now=NOW).on_calendar


def test_timezone_defaults_to_utc_and_keeps_the_name_asked_for() -> None:
    assert translate("0 9 * * *", now=NOW).timezone == "UTC"
    translation = translate("0 9 * * *", "Europe/London", now=NOW)
    assert translation.timezone == "Europe/London"
    assert translation.on_calendar == ("*-*-* 09:00:00 Europe/London",)
    assert translation.cron == "0 9 * * *"


def test_lines_in_a_zone_never_count_back_from_the_month_end() -> None:
    assert translate("0 9 L * *", now=NOW).on_calendar == ("*-*~01 09:00:00 UTC",)
    zoned = translate("0 9 * * L5", "Europe/London", now=NOW).on_calendar
    assert not any("~" in line for line in zoned)
    assert zoned[:2] == (
        "Fri *-01..07/2,08..12/2-25..31 09:00:00 Europe/London",
        "Fri *-04,06,09,11-24..30 09:00:00 Europe/London",
    )
    assert zoned[2] == "Fri 1972..2096/4,2104..2196/4-02-23..29 09:00:00 Europe/London"
    assert zoned[3].startswith("Fri 1970,1971,1973..1975,") and zoned[3].endswith(
        "-02-22..28 09:00:00 Europe/London"
    )


def test_or_rule_warning() -> None:
    assert translate("30 4 1,15 * 5", now=NOW).warnings == (
        "day-of-month `1,15` and day-of-week `5` are both restricted, so cron runs on days "
        "matching either of them (OR), not only on days matching both",
    )


def test_star_prefixed_day_field_warning() -> None:
    assert translate("0 0 */2 * 1", now=NOW).warnings == (
        "day-of-month `*/2` starts with `*`, so cron (Vixie/cronie) runs only on days matching "
        "both day fields (AND); croniter and Kubernetes would run on days matching either "
        "(`*/2` OR `1`)",
    )


def test_step_larger_than_the_range_warning() -> None:
    translation = translate("*/90 * * * *", now=NOW)
    assert translation.on_calendar == ("*-*-* *:00:00 UTC",)
    assert translation.warnings == (
        "step 90 in `*/90` is larger than the minute range, so only 0 is selected",
    )


def test_no_warnings_for_a_plain_schedule() -> None:
    assert translate("0 3 * * *", "America/New_York", now=NOW).warnings == ()


@pytest.mark.parametrize(
    ("values", "low", "high", "text"),
    [
        (range(60), 0, 59, "*"),
        (range(0, 60, 7), 0, 59, "00..56/7"),
        ([90 % 60], 0, 59, "30"),
        ([1, 2, 4, 6, 8], 1, 31, "01,02..08/2"),
        ([0, 30], 0, 59, "00,30"),
        ([1, 2, 3, 10], 0, 23, "01..03,10"),
    ],
)
def test_format_numbers(values: list[int], low: int, high: int, text: str) -> None:
    assert format_numbers(values, low, high) == text


@pytest.mark.parametrize(
    ("weekdays", "text"),
    [
        ({0, 1, 2, 3}, "Mon..Wed,Sun"),
        ({5, 6, 0}, "Fri..Sun"),
        ({1, 3}, "Mon,Wed"),
        (set(range(7)), ""),
    ],
)
def test_format_weekdays(weekdays: set[int], text: str) -> None:
    assert format_weekdays(frozenset(weekdays)) == text
