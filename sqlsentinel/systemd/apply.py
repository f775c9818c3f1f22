"""The systemd half of applying, shared by `install-units` and the daemon's systemd backend.

`applied.accept` validates and keeps the copy with its timetable; this renders every
alert of the timetable into its units and installs them (plan, write, one daemon-reload,
start; then every timer of the config the manager does not run is started too:
`systemd.reconcile`). The units run the applied copy (`sqlsentinel run CONFIG --applied
DIR`), never the file.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlsentinel.applied.store import AppliedStore
from sqlsentinel.applied.timetable import Timetable
from sqlsentinel.config.env_file import read_env_file
from sqlsentinel.config.loader import LoadedConfig
from sqlsentinel.config.spec_cache import cache_root
from sqlsentinel.systemd.clashes import check_clashes, spare_others
from sqlsentinel.systemd.install import Plan, plan_install
from sqlsentinel.systemd.reconcile import carry_out
from sqlsentinel.systemd.systemctl import Systemctl
from sqlsentinel.systemd.units import UnitOptions, render_alert
from sqlsentinel.systemd.userns import user_sandbox_allowed

SERVICE_USER = "sqlsentinel"  # the system user alert services run as (sysusers.d, packages)


@dataclass(frozen=True)
class UnitTarget:
    """Where and how the units are installed; `systemctl` None writes files only."""

    unit_dir: Path
    options: UnitOptions
    systemctl: Systemctl | None


@dataclass(frozen=True)
class Installed:
    """What installing changed: the plan carried out, the timers started for it, and the
    others that were not running and were started again (`systemd.reconcile`)."""

    plan: Plan
    started: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)


def static_service_user() -> bool:
    """True when the `sqlsentinel` system user exists (then services run as it, not a
    DynamicUser=, so the daemon and the services share one owner of the state folder)."""
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return False
    return True


def runs_state_db(options: UnitOptions, configured: str | None) -> str | None:
    """The state database the services' runs write, as a run resolves it: `--state-db`,
    else SQLSENTINEL_STATE_DB from the env file, else the config's `state_db:` (None: the
    default, in the services' own state directory)."""
    given = read_env_file(options.env_file).values if options.env_file else {}
    from_env = given.get("SQLSENTINEL_STATE_DB")
    return options.state_db or from_env or configured


def user_run_folders(store: AppliedStore) -> tuple[str, ...]:
    """What a user-mode run writes besides its state DB: the state directory (default state
    DB, spool) and the spec cache (`install` creates them: the sandbox makes the home
    read-only, so a run could not)."""
    folders = [store.folder.parent.parent]  # <state directory>/applied/<key>
    cache = cache_root(os.environ)
    if cache is not None:
        folders.append(cache)
    return tuple(str(f) for f in folders)


def install(
    loaded: LoadedConfig,
    timetable: Timetable,
    store: AppliedStore,
    target: UnitTarget,
    *,
    dry_run: bool = False,
) -> Installed:
    """Render every enabled alert's units from its timetable entry and install them.

    A broken alert keeps the units it had: its timer goes on firing, and each run
    records the alert's error until its environment is fixed (then it runs again).
    A unit name another folder of the manager holds is refused (`systemd.clashes`), at
    every apply of `install-units` and of the daemon.
    """
    options = replace(
        target.options,
        applied=str(store.folder),
        state_url=runs_state_db(target.options, loaded.settings.state_db),
        writable=() if target.options.system else user_run_folders(store),
        sandbox=not target.options.system and user_sandbox_allowed(),
    )
    rendered = [
        render_alert(a, entry, options)
        for a in loaded.alerts
        if (entry := timetable.entry(a.name)) is not None and entry.broken is None
    ]
    check_clashes(target.unit_dir, options.config_path, rendered, options.system)
    plan = plan_install(target.unit_dir, options.config_path, rendered, loaded.broken)
    spare_others(plan, options.system)
    if dry_run:
        return Installed(plan)
    for folder in options.writable:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    return Installed(plan, *carry_out(plan, target.systemctl))
