"""Each installed alert timer's next and last elapse, as systemd reports them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.install import default_unit_dir, read_manifest
from sqlsentinel.systemd.systemctl import Systemctl
from sqlsentinel.systemd.unit_names import unit_base


def _timestamp(value: str) -> datetime | None:
    """Parse `Fri 2026-11-27 03:35:00 UTC` (systemctl show under TZ=UTC); None when unset."""
    try:
        return datetime.strptime(value, "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    except ValueError:
        return None


def timer_info(unit_names: Sequence[str], user: bool) -> dict[str, dict[str, datetime | None]]:
    """Each timer's `next` and `last` elapse as systemd reports them (None when unknown)."""
    shown = Systemctl(user).show(unit_names, ("NextElapseUSecRealtime", "LastTriggerUSec"))
    return {
        unit: {
            "next": _timestamp(p["NextElapseUSecRealtime"]),
            "last": _timestamp(p["LastTriggerUSec"]),
        }
        for unit, p in shown.items()
    }


def installed_timer_info(
    alert_names: Sequence[str], config: str
) -> dict[str, dict[str, datetime | None]]:
    """Next/last run per alert whose timer install-units installed for `config` (best effort).

    Looks in the default unit folders (system first for root, else the user's); alerts
    without an installed timer, or a manager that cannot be reached, give no entry.
    """
    key = os.path.abspath(config)
    modes = (True, False) if os.geteuid() == 0 else (False,)
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
