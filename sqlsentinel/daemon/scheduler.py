"""The local backend's scheduler: which job is due when. Pure: time is a parameter.

It knows each job's `next_after(t)` and nothing else (no SQL, no notifier, no clock).
A tick whose instant has passed fires once, however late (after a suspend, several
missed instants of one job give one tick); across restarts a `persistent` job whose
recorded next run passed while the daemon was down fires once at start, like a timer
with `Persistent=true`. When the wall clock is set back (an NTP step, a restored VM),
`clock_changed` moves each next instant back to the first one after the new time, as
systemd re-arms calendar timers when the clock changes; set forward, what passed fires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlsentinel.daemon.jobs import Job


@dataclass(frozen=True)
class Tick:
    """One firing of a job: which, and the instant it was planned for."""

    job: str
    scheduled: datetime
    catch_up: bool = False  # a run missed while the daemon was down


class Scheduler:
    """Holds each job's next instant and hands out the due ones."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._next: dict[str, datetime | None] = {}
        self._catch_up: set[str] = set()

    def set_jobs(
        self, jobs: Sequence[Job], now: datetime, recorded: Mapping[str, datetime] | None = None
    ) -> None:
        """Schedule `jobs` from `now`; a job whose schedule is unchanged keeps its next
        instant. `recorded`: next runs a previous daemon recorded (for catch-up)."""
        old_jobs, old_next = self._jobs, self._next
        self._jobs = {j.name: j for j in jobs}
        self._next = {}
        self._catch_up &= set(self._jobs)
        for job in jobs:
            kept = old_jobs.get(job.name)
            planned = (recorded or {}).get(job.name)
            if kept is not None and kept.timer == job.timer:
                self._next[job.name] = old_next[job.name]
            elif job.persistent and planned is not None and planned <= now:
                self._next[job.name] = planned
                self._catch_up.add(job.name)
            else:
                self._next[job.name] = job.next_after(now)

    def due(self, now: datetime) -> list[Tick]:
        """The ticks due at `now`, oldest first; each job then moves past `now`."""
        ticks = []
        for name, at in self._next.items():
            if at is None or at > now:
                continue
            ticks.append(Tick(name, at, name in self._catch_up))
            self._catch_up.discard(name)
            self._next[name] = self._jobs[name].next_after(max(now, at))
        return sorted(ticks, key=lambda t: (t.scheduled, t.job))

    def clock_changed(self, now: datetime) -> None:
        """The wall clock jumped: no job waits past its first instant after `now` (a job
        whose next instant is already earlier, the clock having moved forward, keeps it)."""
        for name, at in self._next.items():
            first = self._jobs[name].next_after(now)
            if at is None or (first is not None and first < at):
                self._next[name] = first

    def wake_at(self) -> datetime | None:
        """The earliest next instant of any job."""
        return min((t for t in self._next.values() if t is not None), default=None)

    def next_runs(self, now: datetime) -> dict[str, datetime | None]:
        """Each job's next run after `now`: a tick already due (a catch-up, or an instant
        passed while the clock moved forward) fires at the next turn, so the run to name
        is the one after it, never a time in the past."""
        return {
            name: at if at is None or at > now else self._jobs[name].next_after(now)
            for name, at in self._next.items()
        }
