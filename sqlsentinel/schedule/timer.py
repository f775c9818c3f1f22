"""When an alert's timer elapses: the one answer the unit renderer, the local scheduler, the
stale check, a run's `scheduled_at`, previews, `status`, `healthcheck` and `metrics` share.

A `Timer` is what a systemd timer built from an alert's translation does on this host: its
cron read in the zone its `OnCalendar=` lines are in (`calendar_zone`; minutes shifted by
`minute_shift` when that is UTC: the DST policy, docs/scheduling.md), every elapse delayed
by the timer's fixed random delay on this host (`offset`, seconds: its `jitter`). Every
instant it takes and gives includes the offset. It round-trips through the timetable's
JSON (`to_json`/`from_json`), and is the only code that builds a calendar enumerator.

A timer computes each elapse from the one before, so the elapse at or before a moment is
found by enumerating from a window before it, widened until it holds two elapses (the
second was computed from the first, as the timer computes it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlsentinel.schedule.cron import CronSpec, parse
from sqlsentinel.schedule.elapses import CalendarTimer, CronSchedule, calendar_for

if TYPE_CHECKING:
    from sqlsentinel.core.spec import AlertSpec

_CALENDARS: dict[tuple[str, str, int], CalendarTimer] = {}  # equal timers share one
FIRST_WINDOW = timedelta(minutes=10)
LONGEST_WINDOW = timedelta(days=20 * 366)  # a cron date may recur only every 8 years (29 Feb)


@dataclass(frozen=True)
class Timer:
    """One alert's timer on this host. Equal timers elapse at the same instants."""

    cron: str
    calendar_zone: str = "UTC"
    minute_shift: int = 0  # UTC minute = local minute - minute_shift, when calendar_zone is UTC
    offset: float = 0.0  # seconds after each calendar elapse that the timer fires
    parsed: CronSpec | None = field(default=None, compare=False, repr=False)
    """`cron` already parsed (by the translation), so it is not parsed again."""

    @classmethod
    def of(cls, alert: AlertSpec, offset: float = 0.0) -> Timer:
        """The timer of a validated alert (its calendar zone was decided by its translation)."""
        return cls(alert.schedule, alert.calendar_zone, alert.minute_shift, offset)

    @classmethod
    def in_zone(
        cls, cron: str, zone: str, *, now: datetime | None = None, offset: float = 0.0
    ) -> Timer:
        """The timer the translation of `cron` in `zone` makes (raises `ScheduleError`)."""
        spec = parse(cron)
        year = (now or datetime.now(UTC)).year
        calendar_zone, shift = calendar_for(CronSchedule(spec), zone, year)
        return cls(cron, calendar_zone, shift, offset, spec)

    @cached_property
    def _calendar(self) -> CalendarTimer:
        key = (self.cron, self.calendar_zone, self.minute_shift)
        found = _CALENDARS.get(key)
        if found is None:  # each cron is parsed (and its enumerator built) once per process
            spec = self.parsed or parse(self.cron)
            found = _CALENDARS[key] = CalendarTimer(CronSchedule(spec), *key[1:])
        return found

    @property
    def _shift(self) -> timedelta:
        return timedelta(seconds=self.offset)

    def iter_after(self, t: datetime) -> Iterator[datetime]:
        """Elapses strictly after `t` (aware), in UTC."""
        shift = self._shift
        for elapse in self._calendar.iter_after(t - shift):
            yield elapse + shift

    def next_after(self, t: datetime) -> datetime | None:
        """The first elapse strictly after `t` (aware), in UTC."""
        return next(self.iter_after(t), None)

    def latest_at_or_before(self, t: datetime) -> datetime | None:
        """The latest elapse at or before `t` (aware), in UTC; None if none in 20 years."""
        window = FIRST_WINDOW
        found: list[datetime] = []
        while window <= LONGEST_WINDOW:
            found = []
            for elapse in self.iter_after(t - window):
                if elapse > t:
                    break
                found.append(elapse)
            if len(found) >= 2:
                return found[-1]
            window *= 4
        return found[-1] if found else None

    def next_in_chain(self, t: datetime) -> datetime | None:
        """The first elapse after `t`, as the timer's own chain of elapses reaches it (from
        the elapse at or before `t`): a repeated wall-clock hour stays silent. (Lines in UTC
        have no repeated hour: there it is the first elapse after `t`.)"""
        if self.calendar_zone == "UTC":
            return self.next_after(t)
        before = self.latest_at_or_before(t)
        return self.next_after(t if before is None else before)

    def with_offset(self, offset: float) -> Timer:
        """The same calendar, delayed by `offset` seconds instead."""
        return Timer(self.cron, self.calendar_zone, self.minute_shift, offset, self.parsed)

    def to_json(self) -> dict[str, Any]:
        """The timetable's fields of this timer."""
        return {name: getattr(self, name) for name in _JSON_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timer:
        """Inverse of `to_json` (KeyError, TypeError or ValueError when it is not one)."""
        return cls(*(kind(data[name]) for name, kind in _JSON_FIELDS.items()))


_JSON_FIELDS: dict[str, Any] = {
    "cron": str, "calendar_zone": str, "minute_shift": int, "offset": float,
}  # fmt: skip
