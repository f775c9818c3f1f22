"""This host's side of when alerts run: its manager, its machine ID (read here and nowhere
else), each alert's fixed run offset (its `jitter`), its CPUs and the bursts they face.

systemd derives a timer's fixed random delay from the machine ID, the manager (system or
a user's) and the unit name (`schedule.jitter.fixed_delay`). The apply step writes each
alert's offset into the timetable (`applied.timetable`), which the units, the daemon's
local backend and the stale check read, so an alert runs at the same instants either way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.errors import Problem
from sqlsentinel.schedule.jitter import fixed_delay

MACHINE_ID = Path("/etc/machine-id")


def machine_id(path: Path = MACHINE_ID) -> bytes:
    """The machine ID as 16 bytes; 16 zero bytes when unset, as systemd falls back to."""
    try:
        text = path.read_text(encoding="ascii").strip()
        value = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return bytes(16)
    return value if len(text) == 32 and len(value) == 16 else bytes(16)


def default_system() -> bool:
    """The manager used unless told otherwise: the system one for root, else the user's."""
    return os.geteuid() == 0


def manager_uid(system: bool) -> int:
    """The uid of the manager that runs the timers: 0 for the system manager."""
    return 0 if system else os.getuid()


def timer_offset(
    alert_name: str, jitter: float, system: bool, machine: bytes | None = None
) -> timedelta:
    """The fixed offset systemd adds to every run of the alert's timer in that manager.

    Zero without jitter. `machine` defaults to this host's machine ID.
    """
    if jitter <= 0:
        return timedelta(0)
    unit = f"{unit_base(alert_name)}.timer"
    mid = machine_id() if machine is None else machine
    return fixed_delay(mid, system, manager_uid(system), unit, jitter)


def timer_offsets(alerts: Sequence[AlertSpec], system: bool) -> dict[str, timedelta]:
    """`timer_offset` of every alert, by name (the machine ID read once, if any has jitter)."""
    machine = machine_id() if any(a.jitter > 0 for a in alerts) else bytes(16)
    return {a.name: timer_offset(a.name, a.jitter, system, machine) for a in alerts}


def host_cpus() -> int:
    """The CPUs this process may run on (its affinity), which the alerts' runs share."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def burst_warning(
    alerts: Sequence[AlertSpec], source: str, system: bool, now: datetime, state_url: str
) -> Problem | None:
    """A warning (at the first alert's line) when too many enabled alerts start at once
    (with ticks recording in the state database at `state_url`)."""
    from sqlsentinel.schedule.bursts import Start, describe, find_burst, tick_cpu_seconds

    enabled = [a for a in alerts if a.enabled]
    offsets = timer_offsets(enabled, system)
    starts = [Start(a.name, a.schedule, a.timezone, offsets[a.name]) for a in enabled]
    cpus = host_cpus()
    burst = find_burst(starts, now, cpus, tick_cpu_seconds(state_url))
    if burst is None:
        return None
    first = next(a for a in enabled if a.name == burst.alerts[0])
    return Problem(source, first.line, "", describe(burst, cpus))
