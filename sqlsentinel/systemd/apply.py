"""The one apply step, shared by `install-units` and the daemon.

validate -> keep the validated bytes as the applied copy -> render -> plan + install.
An invalid config is recorded as rejected and changes nothing: the units keep running
the copy applied before (`sqlsentinel run CONFIG --applied DIR`), never the file.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlsentinel.config.applied import AppliedStore
from sqlsentinel.config.fallbacks import NO_FALLBACKS, Fallbacks
from sqlsentinel.config.loader import LoadedConfig, load_text
from sqlsentinel.config.read import decode_config
from sqlsentinel.errors import ConfigError
from sqlsentinel.systemd.install import Plan, apply, plan_install
from sqlsentinel.systemd.systemctl import Systemctl
from sqlsentinel.systemd.units import UnitOptions, render_alert

SERVICE_USER = "sqlsentinel"  # the system user alert services run as (sysusers.d, packages)


@dataclass(frozen=True)
class UnitTarget:
    """Where and how the units are installed; `systemctl` None writes files only."""

    unit_dir: Path
    options: UnitOptions
    systemctl: Systemctl | None


@dataclass(frozen=True)
class Installed:
    """What installing changed: the plan carried out and the timers started."""

    plan: Plan
    started: list[str] = field(default_factory=list)


def static_service_user() -> bool:
    """True when the `sqlsentinel` system user exists (then services run as it, not a
    DynamicUser=, so the daemon and the services share one owner of the state folder)."""
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return False
    return True


def accept(
    data: bytes,
    config: str,
    store: AppliedStore,
    *,
    environ: Mapping[str, str] | None = None,
    fallbacks: Fallbacks = NO_FALLBACKS,
    keep: bool = True,
) -> LoadedConfig:
    """Validate `data`, the bytes of `config`; when valid (and `keep`) make it the applied copy.

    An invalid config raises ConfigError after being recorded as rejected (with `keep`).
    """
    env = os.environ if environ is None else environ
    now = datetime.now(UTC)
    try:
        loaded = load_text(decode_config(data, config), config, env, fallbacks)
    except ConfigError as exc:
        if keep:
            store.reject(data, config, exc.problems, now)
        raise
    if keep:
        store.save(data, config, fallbacks, now)
    return loaded


def install(
    loaded: LoadedConfig, store: AppliedStore, target: UnitTarget, *, dry_run: bool = False
) -> Installed:
    """Render every enabled alert's units (running the applied copy) and install them.

    A broken alert keeps the units it had: its timer goes on firing, and each run
    records the alert's error until its environment is fixed (then it runs again).
    """
    options = replace(target.options, applied=str(store.folder))
    rendered = [
        render_alert(a, loaded.translations[a.name].on_calendar, options)
        for a in loaded.alerts
        if a.enabled
    ]
    plan = plan_install(target.unit_dir, options.config_path, rendered, loaded.broken)
    if dry_run:
        return Installed(plan)
    return Installed(plan, apply(plan, target.systemctl))
