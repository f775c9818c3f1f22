"""Turn a parsed cron schedule into systemd `OnCalendar=` values (without the zone suffix).

One line ANDs its components and several lines are ORed, so cron's day-of-month OR
day-of-week rule becomes one line per alternative. Sets are always written out
explicitly (systemd rejects `*/n` and `v/n` past the field end), weekdays are sorted into
systemd's Monday-first order (its ranges cannot wrap), and `~` counts days back from the
end of the month (`~01` is the last day).
"""

from __future__ import annotations

from calendar import isleap
from collections.abc import Iterable
from dataclasses import dataclass

from sqlsentinel.schedule.cron import MONTH_NAMES, CronSpec, ScheduleError

ALL_WEEKDAYS = frozenset(range(7))
ALL_DAYS = frozenset(range(1, 32))
_SYSTEMD_WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_MONTH_LENGTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February may have 29


@dataclass(frozen=True)
class DayRule:
    """Days on which one line fires: any of `weekdays` AND any of `days` of the month.

    `days` count from the 1st, or back from the month end (1 = last day) when `from_end`.
    """

    weekdays: frozenset[int]
    from_end: bool
    days: frozenset[int]


def day_rules(spec: CronSpec) -> tuple[DayRule, ...]:
    """The day alternatives of `spec`, simplified; empty if the schedule never fires."""
    dom: list[DayRule] = []
    if spec.days:
        dom.append(DayRule(ALL_WEEKDAYS, False, spec.days))
    if spec.last_day:
        dom.append(DayRule(ALL_WEEKDAYS, True, frozenset({1})))
    dow: list[DayRule] = []
    if spec.weekdays:
        dow.append(DayRule(spec.weekdays, False, ALL_DAYS))
    for weekday, k in sorted(spec.nth_weekdays):
        dow.append(DayRule(frozenset({weekday}), False, frozenset(range(7 * k - 6, 7 * k + 1))))
    for weekday in sorted(spec.last_weekdays):
        dow.append(DayRule(frozenset({weekday}), True, frozenset(range(1, 8))))
    rules = dom + dow if spec.or_rule else [_both(a, b) for a in dom for b in dow]
    possible = [r for r in rules if r.weekdays and r.days and _occurs(r, spec.months)]
    return _simplify(possible)


def calendar_lines(spec: CronSpec, *, month_end: bool = True) -> tuple[str, ...]:
    """The `OnCalendar=` values for `spec`, without a zone; raise if it never fires.

    With `month_end=False`, days counted from the month end are written per month length
    instead of with `~` (February by leap and common years), for lines in a DST zone.
    """
    rules = day_rules(spec)
    if not rules:
        raise _never_fires(spec)
    time = f"{format_numbers(spec.hours, 0, 23)}:{format_numbers(spec.minutes, 0, 59)}:00"
    lines: list[str] = []
    for rule in rules:
        weekdays = format_weekdays(rule.weekdays)
        for date in _dates(rule, spec.months, month_end):
            line = f"{weekdays} {date} {time}" if weekdays else f"{date} {time}"
            if line not in lines:
                lines.append(line)
    return tuple(lines)


def _dates(rule: DayRule, months: frozenset[int], month_end: bool) -> list[str]:
    """The date parts (`YEARS-MONTHS-DAYS`) of one rule."""
    if not rule.from_end or month_end:
        separator = "~" if rule.from_end else "-"
        return [f"*-{format_numbers(months, 1, 12)}{separator}{format_numbers(rule.days, 1, 31)}"]
    dates = []
    for years, group, length in _MONTH_LENGTH_GROUPS:
        selected = months & group
        if selected:
            days = format_numbers({length + 1 - d for d in rule.days}, 1, 31)
            dates.append(f"{years}-{format_numbers(selected, 1, 12)}-{days}")
    return dates


def format_numbers(values: Iterable[int], low: int, high: int) -> str:
    """`*` for the whole range, else progressions `aa..bb[/s]` (3 or more) and single values."""
    ordered = sorted(set(values))
    if ordered == list(range(low, high + 1)):
        return "*"
    parts = []
    index = 0
    while index < len(ordered):
        end = index + 1
        if end < len(ordered):
            step = ordered[end] - ordered[index]
            while end + 1 < len(ordered) and ordered[end + 1] - ordered[end] == step:
                end += 1
            if end - index >= 2:
                suffix = "" if step == 1 else f"/{step}"
                parts.append(f"{ordered[index]:02d}..{ordered[end]:02d}{suffix}")
                index = end + 1
                continue
        parts.append(f"{ordered[index]:02d}")
        index += 1
    return ",".join(parts)


_SYSTEMD_YEARS = range(1970, 2200)
_LEAP_YEARS = format_numbers((y for y in _SYSTEMD_YEARS if isleap(y)), 0, 0)
_COMMON_YEARS = format_numbers((y for y in _SYSTEMD_YEARS if not isleap(y)), 0, 0)
_MONTH_LENGTH_GROUPS = (
    ("*", frozenset({1, 3, 5, 7, 8, 10, 12}), 31),
    ("*", frozenset({4, 6, 9, 11}), 30),
    (_LEAP_YEARS, frozenset({2}), 29),
    (_COMMON_YEARS, frozenset({2}), 28),
)


def format_weekdays(weekdays: frozenset[int]) -> str:
    """Weekday names in systemd's Monday-first order; empty when every day is selected."""
    if weekdays == ALL_WEEKDAYS:
        return ""
    ordered = sorted((d - 1) % 7 for d in weekdays)  # 0 = Monday ... 6 = Sunday
    parts = []
    for a, b in _runs(ordered):
        names = [_SYSTEMD_WEEKDAYS[(d + 1) % 7] for d in range(a, b + 1)]
        parts.append(f"{names[0]}..{names[-1]}" if len(names) >= 3 else ",".join(names))
    return ",".join(parts)


def _runs(ordered: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for value in ordered:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _both(dom: DayRule, dow: DayRule) -> DayRule:
    """Cron's AND of one day-of-month and one day-of-week alternative."""
    weekdays = dom.weekdays & dow.weekdays
    if dom.from_end == dow.from_end:
        return DayRule(weekdays, dom.from_end, dom.days & dow.days)
    # parse() lets a from-end set (`L`, `Ln`) meet only a full day set, which is neutral.
    counted = dom if dom.from_end else dow
    return DayRule(weekdays, True, counted.days)


def _occurs(rule: DayRule, months: frozenset[int]) -> bool:
    """Whether some month in `months` has one of the rule's days (February counts 29)."""
    if rule.from_end:
        return True  # only 1..7 days back are ever used, and every month has them
    return any(day <= _MONTH_LENGTH[m - 1] for m in months for day in rule.days)


def _simplify(rules: list[DayRule]) -> tuple[DayRule, ...]:
    """Merge rules sharing a day set or a weekday set; drop rules another one covers."""
    merged: dict[tuple[bool, frozenset[int]], frozenset[int]] = {}
    for rule in rules:
        key = (rule.from_end, rule.days)
        merged[key] = merged.get(key, frozenset()) | rule.weekdays
    by_weekdays: dict[tuple[bool, frozenset[int]], frozenset[int]] = {}
    for (from_end, days), weekdays in merged.items():
        key = (from_end, weekdays)
        by_weekdays[key] = by_weekdays.get(key, frozenset()) | days
    result = [DayRule(w, e, d) for (e, w), d in by_weekdays.items()]
    return tuple(
        r
        for r in result
        if not any(
            o != r and o.from_end == r.from_end and r.weekdays <= o.weekdays and r.days <= o.days
            for o in result
        )
    )


def _never_fires(spec: CronSpec) -> ScheduleError:
    days = ",".join(str(d) for d in sorted(spec.days))
    months = ", ".join(MONTH_NAMES[m - 1] for m in sorted(spec.months))
    return ScheduleError(
        f"`{spec.text.strip()}` never fires: day {days} does not occur in {months}",
        "pick a day that exists in that month (February has at most 29 days; April, June, "
        "September and November have 30), or use `L` for the last day of the month",
    )
