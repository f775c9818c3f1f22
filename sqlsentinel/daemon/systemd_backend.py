"""The systemd backend: apply the config as `install-units` does; the timers fire the checks.

The alert timers are independent units: they keep firing while the daemon is stopped
or restarting. Each apply makes the manager run every timer of the config (one stopped
by hand is started again: `systemd.reconcile`); between applies the next runs and the
timers' states are the manager's own (`list-units`, `list-timers`), so a timer stopped
by hand shows as stopped, never with a planned time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlsentinel.daemon.backend import Applied
from sqlsentinel.daemon.jobs import Job
from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.apply import UnitTarget, install

log = logging.getLogger("sqlsentinel.daemon")
CHECK_S = 5.0  # how often the timers' states are asked between applies (2 listings)


class SystemdBackend:
    """Installs each applied config's units (one daemon-reload per change)."""

    name = "systemd"

    def __init__(self, target: UnitTarget) -> None:
        self.target = target
        self.launch = target.options.launch
        self.jobs: tuple[Job, ...] = ()
        self._timers: dict[str, str] = {}  # timer unit -> alert
        self._stopped: dict[str, str] = {}  # alert -> its timer's state, when not active
        self._unreachable: str | None = None  # why the manager could not be asked
        self._check_at = 0.0  # monotonic time of the next look at the timers' states

    def install(self, applied: Applied, now: datetime, recorded: Mapping[str, datetime]) -> str:
        """Write the changed units, reload the manager once, start every timer not running."""
        installed = install(applied.loaded, applied.timetable, applied.store, self.target)
        self.jobs = applied.jobs
        self._timers = {f"{e.unit}.timer": e.name for e in applied.timetable.alerts}
        self._stopped = {}
        counts = {a: sum(c.action == a for c in installed.plan.changes) for a in _ACTIONS}
        changes = ", ".join(f"{n} {a}d" for a, n in counts.items() if n) or "no unit changed"
        summary = f"{len(applied.jobs)} alerts scheduled; {changes} in {self.target.unit_dir}"
        if installed.restarted:
            n = len(installed.restarted)
            summary += f"; {n} timer{'s' if n != 1 else ''} not running started again: "
            summary += ", ".join(installed.restarted)
        return summary

    def step(self, now: datetime) -> tuple[datetime | None, int]:
        """systemd fires the timers; every CHECK_S, look whether one stopped or started
        (then report a change: the status line and the recorded next runs follow)."""
        mono = time.monotonic()
        if mono < self._check_at:
            return None, 0
        self._check_at = mono + CHECK_S
        before = self._stopped
        self.next_runs(now)
        return None, int(self._stopped != before)

    def next_runs(self, now: datetime) -> dict[str, datetime | None]:
        """When each timer elapses next, as the manager says (None: it is not running;
        `stopped()` says how it is). Planned from the timetable when the manager cannot
        be asked."""
        systemctl = self.target.systemctl
        if systemctl is None or not self._timers:
            return {j.name: j.next_after(now) for j in self.jobs}
        units = sorted(self._timers)
        try:
            states = systemctl.unit_states(units)
            times = systemctl.timer_times(units)
        except SystemdError as exc:
            if self._unreachable is None:
                log.warning("cannot ask the manager for the timers (planned times shown): %s", exc)
            self._unreachable = str(exc)
            return {j.name: j.next_after(now) for j in self.jobs}
        self._unreachable = None
        runs: dict[str, datetime | None] = {}
        self._stopped = {}
        for unit, alert in self._timers.items():
            state = states.get(unit)
            if state is None or state.active != "active":
                self._stopped[alert] = state.active if state is not None else "not loaded"
                runs[alert] = None
                continue
            usec = times[unit].next_usec if unit in times else 0
            runs[alert] = datetime.fromtimestamp(usec / 1e6, UTC) if usec > 0 else None
        return runs

    def stopped(self) -> dict[str, str]:
        """The alerts whose timer the manager does not run, and its state (as the latest
        `next_runs` found): stopped by hand, or failed, since the last apply."""
        return dict(self._stopped)

    def cannot_record(self) -> str | None:
        """The services' exit codes are systemd's: no sign here (the state database probe
        of /ready speaks for them)."""
        return None

    def running(self) -> list[str]:
        """The daemon runs no checks itself."""
        return []

    def stop(self) -> None:
        """Nothing to stop: the timers are independent of the daemon."""


_ACTIONS = ("create", "update", "remove")
