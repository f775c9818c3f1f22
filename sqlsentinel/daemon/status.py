"""The one line an operator reads in `systemctl status` (STATUS=), the log and `status`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlsentinel.applied.store import Rejection

ERROR_MAX = 100  # of the first error, so the whole line fits systemd's status (STATUS_MAX)


def _at(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t is not None else "?"


def _hm(t: datetime | None) -> str:
    return t.strftime("%H:%M UTC") if t is not None else "?"


def scheduled_line(
    next_runs: dict[str, datetime | None],
    running: list[str],
    broken: Mapping[str, str],
    stopped: Mapping[str, str] | None = None,
) -> str:
    """`12 alerts scheduled; next: daily_revenue_check at 2026-12-01 09:00 UTC`, the
    timers the manager does not run (`stopped`: name -> state, e.g. stopped by hand), and
    the alerts whose own settings are broken (`broken`: name -> first error): one that was
    scheduled before keeps its times, and its runs record the error."""
    planned = [(t, name) for name, t in next_runs.items() if t is not None]
    n = len(next_runs)
    line = f"{n} alert{'s' if n != 1 else ''} scheduled"
    if planned:
        t, name = min(planned)
        line += f"; next: {name} at {_at(t)}"
    if running:
        line += f"; {len(running)} running"
    if stopped:
        name, state = next(iter(sorted(stopped.items())))
        more = f" (+{len(stopped) - 1} more)" if len(stopped) > 1 else ""
        s = "s" if len(stopped) > 1 else ""
        line += f"; {len(stopped)} timer{s} not running: {name} ({state}){more}"
    if broken:
        name, error = next(iter(sorted(broken.items())))
        error = error if len(error) <= ERROR_MAX else error[:ERROR_MAX] + "..."
        more = f" (+{len(broken) - 1} more)" if len(broken) > 1 else ""
        line += f"; {len(broken)} broken: {name}: {error}{more}"
    return line


def invalid_line(rejected: Rejection, applied_at: datetime | None) -> str:
    """`config invalid since 10:42 UTC: alerts.yaml:14: …; running the config applied at …`."""
    more = f" (+{rejected.count - 1} more)" if rejected.count > 1 else ""
    error = (
        rejected.error if len(rejected.error) <= ERROR_MAX else rejected.error[:ERROR_MAX] + "..."
    )
    return (
        f"config invalid since {_hm(rejected.since)}: {error}{more}; "
        f"running the config applied at {_hm(applied_at)}"
    )


def failed_line(error: str, applied_at: datetime | None) -> str:
    """The config validated but could not be applied (systemctl failed)."""
    return f"cannot apply the config: {error}; running the config applied at {_hm(applied_at)}"
