"""Each installed alert timer's next and last elapse and its state, as systemd reports them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlsentinel.applied.host import default_system
from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.clashes import runtime_unit_dir
from sqlsentinel.systemd.install import default_unit_dir, read_manifest


def _moment(usec: int) -> datetime | None:
    """µs since the epoch as an aware UTC time; None for 0 (never, or not scheduled)."""
    return datetime.fromtimestamp(usec / 1_000_000, UTC) if usec > 0 else None


def timer_info(unit_names: Sequence[str], user: bool) -> dict[str, dict[str, Any]]:
    """Each loaded timer's `next` and `last` elapse as systemd reports them (one call), and
    its `state`: `active`, or for a timer with no next elapse what the manager says of it
    (`inactive` when stopped by hand, `failed`; a second call, only then)."""
    from sqlsentinel.systemd.systemctl import Systemctl  # subprocess: only with timers to ask

    systemctl = Systemctl(user)
    times = systemctl.timer_times(unit_names)
    idle = [unit for unit, t in times.items() if t.next_usec <= 0]
    states = systemctl.unit_states(idle) if idle else {}
    return {
        unit: {
            "next": _moment(t.next_usec),
            "last": _moment(t.last_usec),
            "state": states[unit].active if unit in states else "active",
        }
        for unit, t in times.items()
    }


def _unit_dirs(system: bool) -> list[Path]:
    """Where install-units and the daemon put units: the persistent folder, then the
    manager's runtime folder (/run/systemd/system; $XDG_RUNTIME_DIR/systemd/user)."""
    folders = (default_unit_dir(system), runtime_unit_dir(system, os.environ))
    return [f for f in folders if f is not None]


def installed_timer_info(alert_names: Sequence[str], config: str) -> dict[str, dict[str, Any]]:
    """Next/last run and state per alert whose timer install-units or the daemon installed
    for `config` (best effort).

    Looks in the default unit folders (system first for root, else the user's; install-units'
    folder, then the daemon's); alerts without an installed timer, or a manager that cannot
    be reached, give no entry.
    """
    key = os.path.abspath(config)
    modes = (True, False) if default_system() else (False,)
    for system, folder in ((m, d) for m in modes for d in _unit_dirs(m)):
        try:
            installed = read_manifest(folder)["configs"].get(key)
        except SystemdError:
            continue
        if not installed:
            continue
        timers = {f"{unit_base(n)}.timer": n for n in alert_names}
        timers = {t: n for t, n in timers.items() if t in installed["files"]}
        try:
            info = timer_info(sorted(timers), user=not system)
        except SystemdError:
            return {}
        return {timers[t]: times for t, times in info.items()}
    return {}
