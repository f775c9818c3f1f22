"""The second half of an apply: the manager runs what the files say.

Writing unit files changes nothing until the manager has re-read them and the timers are
started. A timer stopped by hand (`systemctl stop`), and the timers of an apply that was
killed after writing its files (before `daemon-reload`, or before the starts), would
otherwise stay as they are: the next apply finds the same files and changes none. So
every apply ends by asking the manager for the state of each of the config's timers (one
`list-units`) and starting every one that is not active; and an apply leaves a pending
mark in the unit folder from before its first write until its starts are done, so the
first apply after a crash mid-apply makes the manager re-read the files (`daemon-reload`),
for changed units that it still runs in their old version.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlsentinel.digest import sha256
from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.install import Plan, apply
from sqlsentinel.systemd.systemctl import Systemctl


def pending_mark(unit_dir: Path, config: str) -> Path:
    """The mark of an unfinished apply of `config` into `unit_dir`."""
    return unit_dir / f".sqlsentinel-pending-{sha256(config.encode())[:16]}"


def applied_timers(plan: Plan) -> list[str]:
    """Every timer the config has in the folder once `plan` is carried out."""
    entry = plan.manifest.get("configs", {}).get(plan.config, {})
    return sorted(name for name in entry.get("files", {}) if name.endswith(".timer"))


def start_stopped(systemctl: Systemctl, timers: list[str]) -> list[str]:
    """Start those of `timers` the manager does not run (one listing, one start call);
    a unit that is not loaded is loaded from its file by the start. Returns them."""
    states = systemctl.unit_states(timers)
    stopped = [t for t in timers if t not in states or states[t].active != "active"]
    systemctl.start(stopped)
    return stopped


def carry_out(plan: Plan, systemctl: Systemctl | None) -> tuple[list[str], list[str]]:
    """Apply `plan`, then make the manager run every timer of its config.

    Returns the timers started for the plan's changes, and the others that were not
    running (stopped by hand, or left by an interrupted apply) and were started too.
    """
    if systemctl is None or plan.config is None:
        return apply(plan, systemctl), []
    mark = pending_mark(plan.unit_dir, plan.config)
    interrupted = mark.exists()
    try:
        if plan.changed:
            plan.unit_dir.mkdir(parents=True, exist_ok=True)
            mark.write_bytes(b"")
    except OSError as exc:
        raise SystemdError(f"cannot update {plan.unit_dir}: {exc.strerror or exc}") from None
    started = apply(plan, systemctl)
    if interrupted and not plan.changed:
        systemctl.daemon_reload()  # the files of the interrupted apply, in their new version
    again = [t for t in start_stopped(systemctl, applied_timers(plan)) if t not in started]
    try:
        os.unlink(mark)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SystemdError(f"cannot update {plan.unit_dir}: {exc.strerror or exc}") from None
    return started, again
