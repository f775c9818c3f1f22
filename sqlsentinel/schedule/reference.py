"""Reference enumerator of cron fire times, independent of the OnCalendar= translator.

`CronSchedule` is cronie's matcher (entry.c bit sets, the day-field star flags and the
supported extensions) applied to wall-clock time. `SystemdTimerModel` adds what a timer
built from the translation does in a time zone (docs/scheduling.md, "DST policy"):

* schedules that depend only on the minute are emitted in UTC, so they fire at every real
  minute whose local minute matches;
* every other schedule follows systemd 252's calendar search in local time: a wall-clock
  time that does not exist (spring forward) is skipped, and a repeated wall-clock time
  (fall back) fires once, at its first occurrence after the previous elapse. Because the
  search never goes back in wall-clock time, the repeated hour is silent. (Lines in a
  zone never use `~`: systemd 252 resolves repeated times on those inconsistently.)

Both give `next_after(t)` and `iter_after(t)` over aware datetimes, returning UTC.
Enumeration stops after `HORIZON_YEAR`, systemd's last year.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache, cached_property
from zoneinfo import ZoneInfo

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


class SystemdTimerModel:
    """When the timer built from the translation of `schedule` in `zone` elapses."""

    def __init__(self, schedule: CronSchedule, zone: str, *, now: datetime | None = None) -> None:
        self.schedule = schedule
        self.zone = ZoneInfo(zone)
        year = (now or datetime.now(UTC)).year
        self.every_real_minute = (
            schedule.minute_only and constant_subhour_offset(zone, year) is not None
        )

    def next_after(self, after: datetime) -> datetime | None:
        """The first elapse strictly after `after` (aware), in UTC."""
        return next(self.iter_after(after), None)

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Elapses strictly after `after` (aware), in UTC."""
        if self.every_real_minute:
            return self._real_minutes_after(_utc(after))
        return self._wall_clock_after(_utc(after))

    def _real_minutes_after(self, after: datetime) -> Iterator[datetime]:
        minutes = self.schedule.spec.minutes
        moment = after.replace(second=0, microsecond=0) + _MINUTE
        while moment.year <= HORIZON_YEAR:
            local_minute = moment.astimezone(self.zone).minute
            if local_minute in minutes:
                yield moment
                moment += _MINUTE
                continue
            gap = min((m - local_minute) % 60 for m in minutes)
            candidate = moment + gap * _MINUTE
            same_offset = moment.astimezone(self.zone).utcoffset() == (
                candidate.astimezone(self.zone).utcoffset()
            )
            moment = candidate if same_offset else moment + _MINUTE

    def _wall_clock_after(self, after: datetime) -> Iterator[datetime]:
        start = after.astimezone(self.zone).replace(tzinfo=None)
        for wall in self.schedule.wall_times_after(start):
            early = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
            if early.astimezone(self.zone).replace(tzinfo=None) != wall:
                continue  # does not exist: skipped by the spring-forward jump
            late = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
            chosen = next((t for t in (early, late) if t > after), None)
            if chosen is not None:
                after = chosen
                yield chosen


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
    info = ZoneInfo(zone)
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
