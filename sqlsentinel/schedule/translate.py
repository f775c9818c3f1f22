"""The public entry point: cron text + time zone -> exact `OnCalendar=` values and warnings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlsentinel.schedule.cron import CronSpec, ScheduleError, parse
from sqlsentinel.schedule.dst import plan
from sqlsentinel.schedule.elapses import CronSchedule
from sqlsentinel.schedule.oncalendar import calendar_lines
from sqlsentinel.schedule.timer import Timer

__all__ = ["ScheduleError", "Translation", "translate"]


@dataclass(frozen=True)
class Translation:
    """A schedule as systemd timer lines.

    `on_calendar` values include the zone suffix (` UTC` or ` Area/City`); `warnings` are
    sentences about DST effects and the day-field rules.
    """

    cron: str
    timezone: str
    on_calendar: tuple[str, ...]
    warnings: tuple[str, ...]
    calendar_zone: str = "UTC"  # the zone the lines are in (see schedule.elapses.calendar_for)
    minute_shift: int = 0  # UTC minute = local minute - minute_shift, when that zone is UTC
    parsed: CronSpec | None = field(default=None, compare=False, repr=False)

    def timer(self, offset: float = 0.0) -> Timer:
        """The timer these lines make, delayed by `offset` seconds (its jitter on a host)."""
        return Timer(self.cron, self.calendar_zone, self.minute_shift, offset, self.parsed)


def translate(
    cron: str, timezone: str | None = None, *, now: datetime | None = None
) -> Translation:
    """Translate `cron` for `timezone` (default UTC); raise `ScheduleError` if not exact.

    `now` (default: the current time) starts the twelve months of DST warnings.
    """
    zone = timezone or "UTC"
    check_zone(zone)
    spec = parse(cron)
    lines = calendar_lines(spec)
    zone_plan = plan(CronSchedule(spec), zone, now or datetime.now(UTC))
    if zone_plan.minute_shift:
        shifted = frozenset((m - zone_plan.minute_shift) % 60 for m in spec.minutes)
        lines = calendar_lines(replace(spec, minutes=shifted))
    elif zone_plan.suffix != "UTC":
        lines = calendar_lines(spec, month_end=False)
    return Translation(
        cron=cron,
        timezone=zone,
        on_calendar=tuple(f"{line} {zone_plan.suffix}" for line in lines),
        warnings=spec.warnings + _day_field_warnings(spec) + zone_plan.warnings,
        calendar_zone=zone_plan.suffix,
        minute_shift=zone_plan.minute_shift,
        parsed=spec,
    )


def check_zone(zone: str) -> None:
    """Raise `ScheduleError` unless `zone` is an IANA time zone name known to tzdata."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone `{zone}`", "use an IANA name such as `Europe/London`, or `UTC`"
        ) from None


def _day_field_warnings(spec: CronSpec) -> tuple[str, ...]:
    """Explain the day-of-month/day-of-week rule where readers (and dialects) differ."""
    fields = spec.text.split()
    if len(fields) != 5:
        return ()
    dom, dow = fields[2], fields[4]
    if spec.or_rule:
        return (
            f"day-of-month `{dom}` and day-of-week `{dow}` are both restricted, so cron runs "
            "on days matching either of them (OR), not only on days matching both",
        )
    starred = [
        (name, text, other)
        for name, text, other in (("day-of-month", dom, dow), ("day-of-week", dow, dom))
        if text.startswith("*") and text != "*" and not other.startswith(("*", "?"))
    ]
    return tuple(
        f"{name} `{text}` starts with `*`, so cron (Vixie/cronie) runs only on days matching "
        f"both day fields (AND); croniter and Kubernetes would run on days matching either "
        f"(`{text}` OR `{other}`)"
        for name, text, other in starred
    )
