"""Each alert as the scheduler sees it, for both backends: its timetable entry.

A job's instants come from its `schedule.timer.Timer` (cron semantics, the DST policy,
the jitter offset on this host), which is what a systemd timer built from the same entry
does: the local backend fires exactly when systemd would, and the systemd backend
reports the same next runs it installed. Its command is the timetable's one command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlsentinel.applied.timetable import Timetable
from sqlsentinel.schedule.timer import Timer


@dataclass(frozen=True)
class Job:
    """One alert as the scheduler sees it."""

    name: str
    timer: Timer  # equal timers fire at the same instants
    persistent: bool  # catch up a run missed while the daemon was down
    command: tuple[str, ...] = ()  # what a tick of it runs

    def next_after(self, t: datetime) -> datetime | None:
        """Its first instant strictly after `t`."""
        return self.timer.next_after(t)


def jobs_of(timetable: Timetable) -> tuple[Job, ...]:
    """The jobs of every alert that runs."""
    return tuple(Job(e.name, e.timer, e.persistent, e.command) for e in timetable.alerts)
