"""The local backend: the daemon fires the alerts itself (containers, hosts without systemd)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from datetime import datetime

from sqlsentinel.applied.timetable import Launch
from sqlsentinel.daemon.backend import Applied
from sqlsentinel.daemon.jobs import Job
from sqlsentinel.daemon.runner import CheckRunner
from sqlsentinel.daemon.scheduler import Scheduler

STOP_GRACE_S = 8.0  # wait this long for running checks on SIGTERM (`docker stop` gives 10 s)
CLOCK_STEP_S = 1.0  # wall minus monotonic moving by more than this: the wall clock was set
log = logging.getLogger("sqlsentinel.daemon")


class LocalBackend:
    """Schedules the jobs and runs each due tick as a child process: the job's command,
    the timetable's one command line (`run` of the applied copy, recorded as CRON)."""

    name = "local"

    def __init__(self, max_running: int, environ: Mapping[str, str], system: bool) -> None:
        self.launch = Launch(system, (sys.executable, "-m", "sqlsentinel"))
        self.scheduler = Scheduler()
        self.jobs: dict[str, Job] = {}
        self.runner = CheckRunner(
            lambda alert: list(self.jobs[alert].command), max_running, environ
        )
        self._offset: float | None = None  # wall clock minus monotonic clock, seconds

    def _command(self, alert: str) -> list[str]:
        return list(self.jobs[alert].command)

    def install(self, applied: Applied, now: datetime, recorded: Mapping[str, datetime]) -> str:
        """Schedule the applied config's jobs (and a persistent run a previous daemon
        `recorded` that passed while it was down)."""
        self.jobs = {j.name: j for j in applied.jobs}
        self.scheduler.set_jobs(applied.jobs, now, recorded)
        self.runner.forget(set(self.jobs))
        return f"{len(applied.jobs)} alerts scheduled"

    def step(self, now: datetime) -> tuple[datetime | None, int]:
        """Start the checks due at `now`; reap finished ones."""
        self._follow_clock(now)
        finished = self.runner.reap()
        due = self.scheduler.due(now)
        for tick in due:
            self.runner.submit(tick)
        return self.scheduler.wake_at(), len(due) + finished

    def _follow_clock(self, now: datetime) -> None:
        """Re-plan when the wall clock was set (it moved against the monotonic clock)."""
        offset = now.timestamp() - time.monotonic()
        if self._offset is not None and abs(offset - self._offset) > CLOCK_STEP_S:
            log.warning("the clock was set %+.0fs: next runs planned again", offset - self._offset)
            self.scheduler.clock_changed(now)
        self._offset = offset

    def next_runs(self, now: datetime) -> dict[str, datetime | None]:
        """Every alert's next run after `now`, as the scheduler plans it."""
        return self.scheduler.next_runs(now)

    def stopped(self) -> dict[str, str]:
        """None: the daemon itself fires every job."""
        return {}

    def cannot_record(self) -> str | None:
        """Why runs cannot be recorded, from the latest checks' exit codes (None: no sign)."""
        return self.runner.cannot_record()

    def running(self) -> list[str]:
        """Alerts being checked now."""
        return self.runner.busy()

    def stop(self) -> None:
        """Stop scheduling; wait for running checks up to STOP_GRACE_S, then end them."""
        self.runner.stop(STOP_GRACE_S)
