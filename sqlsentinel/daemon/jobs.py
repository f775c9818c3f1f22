"""Each alert's firing instants, for both backends: the systemd timer model plus its offset.

`next_after` comes from the schedule room's enumerator (`SystemdTimerModel`), which is
what a timer built from the translation does (cron semantics, DST policy), so the local
backend fires exactly when systemd would, and the systemd backend reports the same
next runs it installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.schedule.cron import parse
from sqlsentinel.schedule.reference import CronSchedule, SystemdTimerModel
from sqlsentinel.systemd.install import default_system
from sqlsentinel.systemd.offsets import timer_offset


@dataclass(frozen=True)
class Job:
    """One alert as the scheduler sees it."""

    name: str
    key: tuple[str, str, float]  # (cron, zone, offset): equal keys fire at the same instants
    persistent: bool  # catch up a run missed while the daemon was down
    next_after: Callable[[datetime], datetime | None]


def tick_offset(alert: AlertSpec) -> float:
    """Seconds after each of its ticks that `alert` fires: its fixed `jitter` offset, the
    one systemd gives its timer on this host (the system manager's for root), so both
    backends fire at the same instants."""
    return timer_offset(alert.name, alert.jitter, default_system()).total_seconds()


def job_for(alert: AlertSpec, now: datetime) -> Job:
    """The job of `alert`: when its timer would elapse, shifted by its offset."""
    model = SystemdTimerModel(CronSchedule(parse(alert.schedule)), alert.timezone, now=now)
    offset_s = tick_offset(alert)
    offset = timedelta(seconds=offset_s)

    def next_after(t: datetime) -> datetime | None:
        tick = model.next_after(t - offset)
        return None if tick is None else tick + offset

    return Job(alert.name, (alert.schedule, alert.timezone, offset_s), alert.persistent, next_after)
