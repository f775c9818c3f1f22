"""Each alert's firing instants, for both backends: its `schedule.timer.Timer`.

The timer is what a systemd timer built from the translation does (cron semantics, DST
policy, the jitter offset), so the local backend fires exactly when systemd would, and
the systemd backend reports the same next runs it installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.schedule.timer import Timer
from sqlsentinel.systemd.install import default_system
from sqlsentinel.systemd.offsets import timer_offset


@dataclass(frozen=True)
class Job:
    """One alert as the scheduler sees it."""

    name: str
    key: Timer  # equal keys fire at the same instants
    persistent: bool  # catch up a run missed while the daemon was down
    next_after: Callable[[datetime], datetime | None]


def tick_offset(alert: AlertSpec) -> float:
    """Seconds after each of its ticks that `alert` fires: its fixed `jitter` offset, the
    one systemd gives its timer on this host (the system manager's for root), so both
    backends fire at the same instants."""
    return timer_offset(alert.name, alert.jitter, default_system()).total_seconds()


def job_for(alert: AlertSpec, now: datetime) -> Job:
    """The job of `alert`: when its timer would elapse, shifted by its offset."""
    timer = Timer.of(alert, tick_offset(alert))
    return Job(alert.name, timer, alert.persistent, timer.next_after)
