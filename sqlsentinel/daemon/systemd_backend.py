"""The systemd backend: apply the config as `install-units` does; the timers fire the checks.

The alert timers are independent units: they keep firing while the daemon is stopped
or restarting, and the daemon only changes them when a new config is applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlsentinel.daemon.backend import Applied
from sqlsentinel.daemon.jobs import Job
from sqlsentinel.systemd.apply import UnitTarget, install


class SystemdBackend:
    """Installs each applied config's units (one daemon-reload per change)."""

    name = "systemd"

    def __init__(self, target: UnitTarget) -> None:
        self.target = target
        self.launch = target.options.launch
        self.jobs: tuple[Job, ...] = ()

    def install(self, applied: Applied, now: datetime, recorded: Mapping[str, datetime]) -> str:
        """Write the changed units, reload the manager once, start new timers."""
        installed = install(applied.loaded, applied.timetable, applied.store, self.target)
        self.jobs = applied.jobs
        counts = {a: sum(c.action == a for c in installed.plan.changes) for a in _ACTIONS}
        changes = ", ".join(f"{n} {a}d" for a, n in counts.items() if n) or "no unit changed"
        return f"{len(applied.jobs)} alerts scheduled; {changes} in {self.target.unit_dir}"

    def step(self, now: datetime) -> tuple[datetime | None, int]:
        """Nothing to do: systemd fires the timers."""
        return None, 0

    def next_runs(self, now: datetime) -> dict[str, datetime | None]:
        """When each timer elapses next (the same enumerator the timers were built from)."""
        return {j.name: j.next_after(now) for j in self.jobs}

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
