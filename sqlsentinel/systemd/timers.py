"""Each installed alert timer's next and last elapse, as systemd reports them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlsentinel.applied.host import default_system
from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.install import default_unit_dir, read_manifest


def _moment(usec: int) -> datetime | None:
    """µs since the epoch as an aware UTC time; None for 0 (never, or not scheduled)."""
    return datetime.fromtimestamp(usec / 1_000_000, UTC) if usec > 0 else None


def timer_info(unit_names: Sequence[str], user: bool) -> dict[str, dict[str, datetime | None]]:
    """Each loaded timer's `next` and `last` elapse as systemd reports them (one call)."""
    from sqlsentinel.systemd.systemctl import Systemctl  # subprocess: only with timers to ask

    times = Systemctl(user).timer_times(unit_names)
    return {
        unit: {"next": _moment(t.next_usec), "last": _moment(t.last_usec)}
        for unit, t in times.items()
    }


def installed_timer_info(
    alert_names: Sequence[str], config: str
) -> dict[str, dict[str, datetime | None]]:
    """Next/last run per alert whose timer install-units installed for `config` (best effort).

    Looks in the default unit folders (system first for root, else the user's); alerts
    without an installed timer, or a manager that cannot be reached, give no entry.
    """
    key = os.path.abspath(config)
    modes = (True, False) if default_system() else (False,)
    for system in modes:
        try:
            installed = read_manifest(default_unit_dir(system))["configs"].get(key)
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
