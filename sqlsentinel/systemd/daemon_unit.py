"""The supervisor's own unit (`sqlsentinel.service`), from one template.

The packages ship it rendered for `/usr/bin/sqlsentinel` (`systemd/`, checked by the
tests); `install-daemon` renders it for the program that runs it (a pip install's
interpreter) and the config it names, and installs it in the manager's unit folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlsentinel.atomic import atomic_write_many
from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.install import Action, read_unit_file
from sqlsentinel.systemd.units import (
    home_protection,
    one_line_text,
    plain_path,
    quote_arg,
    sqlite_dir,
    template_environment,
    tmp_private,
)
from sqlsentinel.systemd.userns import user_sandbox_allowed

if TYPE_CHECKING:
    from sqlsentinel.systemd.systemctl import Systemctl

UNIT = "sqlsentinel.service"
MARKER = (
    "# Written by `sqlsentinel install-daemon`: edits are overwritten (add yours with "
    "`systemctl edit`); see docs/install.md."
)
SYSTEM_WRITES = ("/run/systemd/system", "/var/lib/sqlsentinel")  # its units, its state


@dataclass(frozen=True)
class DaemonUnit:
    """What the supervisor's unit says; every value is unit text already (escaped)."""

    system: bool
    program: str  # the ExecStart= words that start sqlsentinel
    config: str
    shown_config: str  # for Description=
    env_file: str | None
    read_write: tuple[str, ...] = SYSTEM_WRITES
    protect_home: str = "yes"
    marker: str | None = None  # None: the packages' unit
    sandbox: bool = False  # user mode: PrivateUsers=-based (systemd.userns); system: always
    private_tmp: bool = True  # False: a path it needs lives in /tmp (units.tmp_private)


def shipped(system: bool) -> DaemonUnit:
    """The unit the packages install (systemd/sqlsentinel.service, systemd/user/…)."""
    if system:
        config, env_file = "/etc/sqlsentinel/alerts.yaml", "/etc/sqlsentinel/sqlsentinel.env"
        return DaemonUnit(True, "/usr/bin/sqlsentinel", config, config, env_file)
    home = "%h/.config/sqlsentinel"
    return DaemonUnit(
        False,
        "/usr/bin/sqlsentinel",
        f"{home}/alerts.yaml",
        "~/.config/sqlsentinel/alerts.yaml",
        f"{home}/sqlsentinel.env",
    )


def for_program(
    system: bool,
    command: tuple[str, ...],
    config: str,
    env_file: str | None,
    state_db: str | None,
    writable: tuple[str, ...] = (),
) -> DaemonUnit:
    """The unit that runs `command` (e.g. this interpreter with `-m sqlsentinel`) on the
    absolute `config`; `state_db` is the config's SQLite state DB, which it must write, and
    `writable` the other folders it writes in user mode (its runtime, state and cache
    folders), for the sandbox a user manager gives where the kernel permits it."""
    state_dir = sqlite_dir(state_db)
    paths = (*command[:1], config, env_file or "/", state_dir or "/")
    folders = daemon_folders(system, state_db, writable)
    return DaemonUnit(
        system,
        " ".join(quote_arg(word, what="program") for word in command),
        quote_arg(config, what="config path"),
        one_line_text(config),
        plain_path(env_file, "env file") if env_file else None,
        tuple(plain_path(f, "folder the daemon writes") for f in folders),
        home_protection(paths),
        MARKER,
        sandbox=not system and user_sandbox_allowed(),
        private_tmp=tmp_private((*paths, *folders)),
    )


def daemon_folders(system: bool, state_db: str | None, writable: tuple[str, ...]) -> list[str]:
    """The folders the daemon's unit lets it write (they must exist before it starts)."""
    state_dir = sqlite_dir(state_db)
    extra = (state_dir,) if state_dir else ()
    return list(dict.fromkeys((*SYSTEM_WRITES, *extra) if system else (*writable, *extra)))


def render_daemon_unit(unit: DaemonUnit) -> str:
    """The unit file's text."""
    return template_environment().get_template("daemon.service.j2").render(**vars(unit))


def _ours(path: Path) -> str | None:
    """The unit's text when install-daemon wrote it (None: no file); refuses another's."""
    text = read_unit_file(path)
    if text is not None and not text.startswith(MARKER):
        raise SystemdError(f"{path} exists and was not written by `sqlsentinel install-daemon`")
    return text


def install_daemon_unit(
    unit_dir: Path, text: str, systemctl: Systemctl | None, *, start: bool = True
) -> Action:
    """Write the unit when it changed, then enable it and start it (restart it when it
    changed while running): `start` returns once the daemon said READY=1."""
    path = unit_dir / UNIT
    before = _ours(path)
    action: Action = "unchanged" if before == text else "create" if before is None else "update"
    if action != "unchanged":
        try:
            unit_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_many(unit_dir, {UNIT: text.encode("utf-8")}, 0o644, sync=True)
        except OSError as exc:
            raise SystemdError(f"cannot write {path}: {exc.strerror or exc}") from None
    if systemctl is None:
        return action
    if action != "unchanged":
        systemctl.daemon_reload()
    systemctl.run("enable", "--", UNIT)
    if start:
        systemctl.run("start" if action == "unchanged" else "restart", "--", UNIT)
    return action


def uninstall_daemon_unit(unit_dir: Path, systemctl: Systemctl | None) -> bool:
    """Stop, disable and remove the unit install-daemon wrote; False when there is none."""
    path = unit_dir / UNIT
    if _ours(path) is None:
        return False
    if systemctl is not None:
        systemctl.run("disable", "--now", "--", UNIT)
    path.unlink(missing_ok=True)
    if systemctl is not None:
        systemctl.daemon_reload()
    return True
