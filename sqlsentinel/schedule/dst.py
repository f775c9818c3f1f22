"""The DST policy: which zone a schedule's OnCalendar= lines use, and what it costs.

* UTC (the default) is exact.
* A schedule that depends only on the minute (every hour of every day matches) is
  emitted in UTC with its minutes shifted by the zone's sub-hour offset, when that offset
  is constant (`:00` in Australia/Adelaide, +9:30/+10:30, is `:30` UTC). That is exact in
  every such zone, across every transition.
* Any other schedule gets the zone as a suffix and systemd 252's rules apply: a run at a
  wall-clock time skipped by the spring-forward jump does not happen, and a run at a
  repeated wall-clock time fires once, at its first occurrence; the repeated hour is
  silent. Warnings name the transitions of the next twelve months that affect a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlsentinel.schedule.elapses import CronSchedule, calendar_for

WARNING_HORIZON = timedelta(days=366)


@dataclass(frozen=True)
class ZonePlan:
    """How to emit a schedule: the line suffix, the minute shift and the DST warnings.

    UTC minute = local minute - `minute_shift` (mod 60).
    """

    suffix: str
    minute_shift: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Transition:
    """A change of UTC offset at instant `at` (UTC)."""

    at: datetime
    before: timedelta
    after: timedelta


def plan(schedule: CronSchedule, zone: str, now: datetime) -> ZonePlan:
    """Decide the suffix and shift for `schedule` in `zone`, with warnings as of `now`."""
    calendar_zone, shift = calendar_for(schedule, zone, now.year)
    if calendar_zone == "UTC":
        return ZonePlan("UTC", shift, ())
    return ZonePlan(zone, 0, tuple(transition_warnings(schedule, zone, now)))


def transitions(zone: str, start: datetime, end: datetime) -> list[Transition]:
    """Offset changes of `zone` between `start` and `end` (aware), found to the second."""
    return [
        change
        for year in range(start.year, end.year + 1)
        for change in _year_transitions(zone, year)
        if start <= change.at < end
    ]


@cache
def _year_transitions(zone: str, year: int) -> tuple[Transition, ...]:
    """Offset changes in one UTC year: sampled every 6 hours, then bisected."""
    info = ZoneInfo(zone)
    found: list[Transition] = []
    step = timedelta(hours=6)
    moment = datetime(year, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(info).utcoffset()
    while moment.year == year:
        following = moment + step
        new_offset = following.astimezone(info).utcoffset()
        if new_offset != offset and offset is not None and new_offset is not None:
            low, high = moment, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(info).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            found.append(Transition(high.replace(microsecond=0), offset, new_offset))
        moment, offset = following, new_offset
    return tuple(found)


def transition_warnings(schedule: CronSchedule, zone: str, now: datetime) -> list[str]:
    """One sentence per coming transition at which a run is skipped or not repeated."""
    info = ZoneInfo(zone)
    warnings = []
    for change in transitions(zone, now, now + WARNING_HORIZON):
        low = (change.at + min(change.before, change.after)).replace(tzinfo=None)
        high = (change.at + max(change.before, change.after)).replace(tzinfo=None)
        runs = []
        wall = low
        while wall < high:
            if schedule.matches(wall):
                runs.append(wall)
            wall += timedelta(minutes=1)
        if not runs:
            continue
        first = f"{low:%H:%M}"
        last = f"{high:%H:%M}"
        if change.after > change.before:
            warnings.append(
                f"on {low:%Y-%m-%d} {zone} jumps from {first} to {last}: "
                f"{_describe(runs)} {'is' if len(runs) == 1 else 'are'} skipped"
            )
        else:
            before = change.at - timedelta(seconds=1)
            early = before.astimezone(info).tzname()
            late = change.at.astimezone(info).tzname()
            warnings.append(
                f"on {low:%Y-%m-%d} {zone} repeats {first}-{last} ({early}, then {late}): "
                f"{_describe(runs)} {'fires' if len(runs) == 1 else 'fire'} only once, "
                f"at the first occurrence ({early}), not again in {late}"
            )
    return warnings


def _describe(runs: list[datetime]) -> str:
    if len(runs) == 1:
        return f"the run at {runs[0]:%H:%M}"
    return f"the {len(runs)} runs at {runs[0]:%H:%M}-{runs[-1]:%H:%M}"
