"""Putting a daemon together from its options: which backend, where units go, the parts."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlsentinel.applied.store import AppliedStore
from sqlsentinel.config.fallbacks import NO_FALLBACKS, Fallbacks
from sqlsentinel.daemon.backend import Backend
from sqlsentinel.daemon.local import LocalBackend
from sqlsentinel.daemon.reload_ack import ReloadAck, ack_path
from sqlsentinel.daemon.sd_notify import Notifier
from sqlsentinel.daemon.supervisor import DaemonSettings, Supervisor
from sqlsentinel.errors import StateDBError
from sqlsentinel.state.location import state_dir

log = logging.getLogger("sqlsentinel.daemon")
BackendChoice = Literal["auto", "systemd", "local"]


@dataclass(frozen=True)
class DaemonOptions:
    """`sqlsentinel daemon`'s options, resolved."""

    config: str  # absolute
    state_db: str | None = None  # --state-db / SQLSENTINEL_STATE_DB
    unit_state_db: str | None = None  # --state-db to write into units (given, no password)
    fallbacks: Fallbacks = NO_FALLBACKS
    watch: bool = True
    backend: BackendChoice = "auto"
    system: bool = False
    unit_dir: str | None = None
    env_file: str | None = None
    max_running: int = 4


def daemon_unit_dir(system: bool, environ: Mapping[str, str]) -> Path:
    """Where the daemon writes units: the manager's runtime folder (re-applied at each start)."""
    from sqlsentinel.systemd.clashes import runtime_unit_dir
    from sqlsentinel.systemd.install import default_unit_dir

    return runtime_unit_dir(system, environ) or default_unit_dir(False)


def _writable(folder: Path) -> bool:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def systemd_usable(system: bool, unit_dir: Path, environ: Mapping[str, str]) -> bool:
    """True when systemd manages this system (or this user) and `unit_dir` is writable."""
    if system:
        booted = Path("/run/systemd/system").is_dir()
    else:
        runtime = environ.get("XDG_RUNTIME_DIR", "")
        booted = bool(runtime) and Path(runtime, "systemd", "private").exists()
    return booted and _writable(unit_dir)


def _backend(options: DaemonOptions, environ: Mapping[str, str]) -> Backend:
    unit_dir = (
        Path(options.unit_dir) if options.unit_dir else daemon_unit_dir(options.system, environ)
    )
    choice = options.backend
    if choice == "auto":
        choice = "systemd" if systemd_usable(options.system, unit_dir, environ) else "local"
    if choice == "local":
        env = dict(environ)
        if options.state_db:
            env["SQLSENTINEL_STATE_DB"] = options.state_db
        return LocalBackend(options.max_running, env, options.system)
    from sqlsentinel.daemon.systemd_backend import SystemdBackend
    from sqlsentinel.systemd.apply import UnitTarget, static_service_user
    from sqlsentinel.systemd.systemctl import Systemctl
    from sqlsentinel.systemd.units import UnitOptions

    unit_options = UnitOptions(
        system=options.system,
        command=(sys.executable, "-m", "sqlsentinel"),
        config_path=options.config,
        state_db=options.unit_state_db,
        env_file=options.env_file,
        static_user=options.system and static_service_user(),
    )
    return SystemdBackend(UnitTarget(unit_dir, unit_options, Systemctl(user=not options.system)))


def build(options: DaemonOptions, environ: Mapping[str, str]) -> Supervisor:
    """The supervisor of `options.config` with its backend, notifier and reload acknowledger."""
    notifier = Notifier()  # first: it takes NOTIFY_SOCKET out of the children's environment
    store = AppliedStore.for_config(options.config, state_dir(environ))
    backend = _backend(options, environ)
    log.info("backend %s for %s", backend.name, options.config)
    settings = DaemonSettings(
        options.config, options.state_db, options.fallbacks, options.watch, environ
    )
    return Supervisor(settings, store, backend, notifier, _ack(environ))


def _ack(environ: Mapping[str, str]) -> ReloadAck | None:
    """The reload acknowledgement, or None (SIGHUP still reloads) where there is no private
    folder to keep it in."""
    try:
        return ReloadAck(ack_path(os.getpid(), environ))
    except (OSError, StateDBError) as exc:
        log.warning("`sqlsentinel reload` cannot reach this daemon (SIGHUP still reloads): %s", exc)
        return None
