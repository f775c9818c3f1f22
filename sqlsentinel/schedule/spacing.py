"""The shortest real time between two consecutive runs of a schedule's timer.

Every matching day has the same times of day, so the shortest gap is either between two
times of one day or from a day's last run to the first run of the next matching day. In
a zone (DST rule 3), a spring-forward jump shortens the one gap that spans it: those gaps
are measured at every transition of the coming twelve months.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlsentinel.schedule.cron import CronSpec
from sqlsentinel.schedule.dst import WARNING_HORIZON, Transition, transitions
from sqlsentinel.schedule.elapses import CronSchedule, calendar_for

DAY_SCAN_YEARS = 10  # one February 29 can be eight years after the last (2096, 2104)
_DAY = 1440  # minutes
_NEVER = timedelta(days=DAY_SCAN_YEARS * 366)


def shortest_interval(
    cron: str, zone: str, now: datetime, parsed: CronSpec | None = None
) -> timedelta:
    """The shortest time between two elapses of the timer of `cron` in `zone`, from `now`
    (`parsed`: `cron` already parsed)."""
    return _shortest(cron, zone, now.astimezone(UTC).date(), parsed)


@lru_cache(maxsize=1024)  # alerts often share a schedule
def _shortest(cron: str, zone: str, day: date, parsed: CronSpec | None) -> timedelta:
    schedule = CronSchedule(parsed) if parsed is not None else CronSchedule.from_text(cron)
    shortest = _wall_clock_gap(schedule, day)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if calendar_for(schedule, zone, start.year)[0] == "UTC":  # every real minute, no DST gaps
        return shortest
    info = ZoneInfo(zone)
    jumps = [c for c in transitions(zone, start, start + WARNING_HORIZON) if c.after > c.before]
    return min([shortest, *(_gap_across(schedule, info, c) for c in jumps)])


def _wall_clock_gap(schedule: CronSchedule, start: date) -> timedelta:
    times = sorted(h * 60 + m for h in schedule.spec.hours for m in schedule.spec.minutes)
    gaps = [b - a for a, b in pairwise(times)]
    overnight = _DAY - times[-1] + times[0]
    if gaps and min(gaps) <= overnight:
        return timedelta(minutes=min(gaps))
    days = _closest_days(schedule, start)
    if days is None:
        return _NEVER
    return timedelta(minutes=min([*gaps, overnight + (days - 1) * _DAY]))


def _closest_days(schedule: CronSchedule, start: date) -> int | None:
    """The fewest days between two matching days in the coming years (None: fewer than 2)."""
    closest: int | None = None
    previous = None
    year, month = start.year, start.month
    for _ in range(DAY_SCAN_YEARS * 12):
        for day in schedule.days_of(year, month):
            ordinal = date(year, month, day).toordinal()
            if previous is not None:
                gap = ordinal - previous
                closest = gap if closest is None else min(closest, gap)
                if closest == 1:
                    return 1
            previous = ordinal
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return closest


def _gap_across(schedule: CronSchedule, info: ZoneInfo, change: Transition) -> timedelta:
    """The real time between the last run before a spring-forward jump and the first after."""
    low = (change.at + change.before).replace(tzinfo=None)  # the wall clock jumps from here
    high = (change.at + change.after).replace(tzinfo=None)  # to here
    after = next(schedule.wall_times_after(high - timedelta(minutes=1)), None)
    before = _last_before(schedule, low)
    if after is None or before is None:
        return _NEVER
    return after.replace(tzinfo=info).astimezone(UTC) - before.replace(tzinfo=info).astimezone(UTC)


def _last_before(schedule: CronSchedule, wall: datetime) -> datetime | None:
    for span in (1, 32, 400, DAY_SCAN_YEARS * 366):
        last = None
        for candidate in schedule.wall_times_after(wall - timedelta(days=span)):
            if candidate >= wall:
                break
            last = candidate
        if last is not None:
            return last
    return None
