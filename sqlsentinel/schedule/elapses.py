"""Cron fire times and timer elapses, enumerated independently of the OnCalendar= translator.

`CronSchedule` is cronie's matcher (entry.c bit sets, the day-field star flags and the
supported extensions) applied to wall-clock time. `CalendarTimer` adds what a timer built
from the translation does in a time zone (docs/scheduling.md, "DST policy"), and
`calendar_for` decides that zone as the translation does:

* schedules that depend only on the minute are emitted in UTC, so they fire at every real
  minute whose local minute matches;
* every other schedule follows systemd 252's calendar search in local time: a wall-clock
  time that does not exist (spring forward) is skipped, and a repeated wall-clock time
  (fall back) fires once, at its first occurrence after the previous elapse. Because the
  search never goes back in wall-clock time, the repeated hour is silent. (Lines in a
  zone never use `~`: systemd 252 resolves repeated times on those inconsistently.)

This is what runs in production: `schedule.timer.Timer` (the one type every room asks)
builds its `CalendarTimer` here. Enumeration stops after `HORIZON_YEAR`, systemd's last
year.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache, cached_property

from sqlsentinel.schedule.cron import CronSpec, parse

HORIZON_YEAR = 2199
_MINUTE = timedelta(minutes=1)


def _bits(values: frozenset[int]) -> int:
    mask = 0
    for value in values:
        mask |= 1 << value
    return mask


class CronSchedule:
    """When a cron schedule fires in wall-clock time (cronie semantics)."""

    def __init__(self, spec: CronSpec) -> None:
        self.spec = spec
        self._minutes = sorted(spec.minutes)
        self._hours = sorted(spec.hours)
        self._hour_bits = _bits(spec.hours)
        self._dom_bits = _bits(spec.days)
        self._month_bits = _bits(spec.months)
        self._dow_bits = _bits(spec.weekdays)
        self._and_days = spec.dom_star or spec.dow_star
        self._days_cache: dict[tuple[int, int], tuple[int, ...]] = {}

    @classmethod
    def from_text(cls, text: str) -> CronSchedule:
        """Parse `text` (raises `ScheduleError`) and build its schedule."""
        return cls(parse(text))

    def _day_hit(self, day: int, month_length: int, weekday: int) -> bool:
        spec = self.spec
        dom = bool(self._dom_bits >> day & 1) or (spec.last_day and day == month_length)
        dow = (
            bool(self._dow_bits >> weekday & 1)
            or (weekday, (day - 1) // 7 + 1) in spec.nth_weekdays
            or (weekday in spec.last_weekdays and day + 7 > month_length)
        )
        return (dom and dow) if self._and_days else (dom or dow)

    def day_matches(self, day: date) -> bool:
        """Whether cron runs on `day` (month, day-of-month and day-of-week fields)."""
        if not self._month_bits >> day.month & 1:
            return False
        length = calendar.monthrange(day.year, day.month)[1]
        return self._day_hit(day.day, length, (day.weekday() + 1) % 7)

    def matches(self, wall: datetime) -> bool:
        """Whether cron fires at the wall-clock minute `wall` (naive)."""
        return (
            wall.minute in self.spec.minutes
            and bool(self._hour_bits >> wall.hour & 1)
            and self.day_matches(wall.date())
        )

    @cached_property
    def minute_only(self) -> bool:
        """True when every hour of every day matches, so only the minute matters."""
        return (
            self.spec.hours == frozenset(range(24))
            and self.spec.months == frozenset(range(1, 13))
            and all(
                self._day_hit(day, length, (first + day - 1) % 7)
                for length in (28, 29, 30, 31)
                for first in range(7)
                for day in range(1, length + 1)
            )
        )

    def _month_days(self, length: int, first_weekday: int) -> tuple[int, ...]:
        """Matching days of a month, which depend only on its length and first weekday."""
        key = (length, first_weekday)
        if key not in self._days_cache:
            self._days_cache[key] = tuple(
                day
                for day in range(1, length + 1)
                if self._day_hit(day, length, (first_weekday + day - 1) % 7)
            )
        return self._days_cache[key]

    def days_of(self, year: int, month: int) -> tuple[int, ...]:
        """The days of `month` on which cron runs (none when the month does not match)."""
        if not self._month_bits >> month & 1:
            return ()
        first_weekday, length = calendar.monthrange(year, month)
        return self._month_days(length, (first_weekday + 1) % 7)

    def wall_times_after(self, start: datetime) -> Iterator[datetime]:
        """Matching naive wall-clock minutes strictly after naive `start`, in order."""
        year, month = start.year, start.month
        while year <= HORIZON_YEAR:
            for day in self.days_of(year, month):
                if (year, month, day) < (start.year, start.month, start.day):
                    continue
                for hour in self._hours:
                    for minute in self._minutes:
                        wall = datetime(year, month, day, hour, minute)
                        if wall > start:
                            yield wall
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def next_after(self, after: datetime) -> datetime | None:
        """The first run strictly after `after`, with the schedule read in UTC."""
        return next(self.iter_after(after), None)

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Runs strictly after `after`, with the schedule read in UTC."""
        start = _utc(after).replace(tzinfo=None)
        for wall in self.wall_times_after(start):
            yield wall.replace(tzinfo=UTC)


def calendar_for(schedule: CronSchedule, zone: str, year: int) -> tuple[str, int]:
    """How the translation emits `schedule` in `zone`: (calendar zone, minute shift).

    UTC stays UTC. A schedule that depends only on the minute is emitted in UTC with its
    minutes shifted by the zone's sub-hour offset, when that offset is constant from `year`
    on; any other schedule is emitted in the zone. (The DST policy, docs/scheduling.md.)
    """
    if zone == "UTC":
        return "UTC", 0
    if schedule.minute_only:
        shift = constant_subhour_offset(zone, year)
        if shift is not None:
            return "UTC", shift
    return zone, 0


class CalendarTimer:
    """When a timer elapses whose lines were emitted in `calendar_zone` (minutes shifted by
    `minute_shift` when that is UTC), over aware datetimes, in UTC. Build it through
    `schedule.timer.Timer`."""

    def __init__(self, schedule: CronSchedule, calendar_zone: str, minute_shift: int = 0) -> None:
        self.schedule = schedule
        spec = schedule.spec
        shifted = frozenset((m - minute_shift) % 60 for m in spec.minutes)
        self._utc = CronSchedule(replace(spec, minutes=shifted)) if minute_shift else schedule
        self._zone = None if calendar_zone == "UTC" else _zone_info(calendar_zone)

    def next_after(self, after: datetime) -> datetime | None:
        """The first elapse strictly after `after` (aware), in UTC."""
        return next(self.iter_after(after), None)

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Elapses strictly after `after` (aware), in UTC."""
        if self._zone is None:
            return self._utc.iter_after(after)
        return self._wall_clock_after(_utc(after), self._zone)

    def _wall_clock_after(self, after: datetime, zone: tzinfo) -> Iterator[datetime]:
        start = after.astimezone(zone).replace(tzinfo=None)
        for wall in self.schedule.wall_times_after(start):
            early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
            if early.astimezone(zone).replace(tzinfo=None) != wall:
                continue  # does not exist: skipped by the spring-forward jump
            late = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
            chosen = next((t for t in (early, late) if t > after), None)
            if chosen is not None:
                after = chosen
                yield chosen


def _zone_info(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo  # only schedules in a zone pay for tzdata

    return ZoneInfo(name)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return moment.astimezone(UTC)


@cache
def constant_subhour_offset(zone: str, from_year: int) -> int | None:
    """The zone's UTC offset modulo one hour, in minutes, if constant from `from_year` on.

    Sampled twice a day for 40 years: tzdata's rules repeat yearly after their last
    listed change. None when the sub-hour part changes (e.g. Australia/Lord_Howe).
    """
    info = _zone_info(zone)
    moment = datetime(from_year, 1, 1, tzinfo=UTC)
    end = datetime(from_year + 40, 1, 1, tzinfo=UTC)
    seen: set[int] = set()
    while moment < end:
        offset = moment.astimezone(info).utcoffset()
        seen.add(int(offset.total_seconds()) % 3600 if offset is not None else 0)
        if len(seen) > 1:
            return None
        moment += timedelta(hours=12)
    value = seen.pop()
    return None if value % 60 else value // 60
