"""`install-units` and `uninstall-units`: one systemd timer + service per enabled alert."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sqlsentinel.cli.common import (
    CONFIG_PATH,
    applied_store,
    config_argument,
    database_url_option,
    emit,
    fallbacks,
    json_option,
    manager_option,
    read_into_environment,
    say,
)
from sqlsentinel.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from sqlsentinel.systemd.install import Plan
    from sqlsentinel.systemd.systemctl import Systemctl

F = TypeVar("F", bound=Callable[..., Any])
COLUMNS = ("unit", "alert", "action")


def _mode_options(f: F) -> F:
    options = [
        manager_option,
        click.option(
            "--unit-dir",
            type=click.Path(file_okay=False),
            help="Unit folder (default /etc/systemd/system; ~/.config/systemd/user with --user).",
        ),
        click.option("--dry-run", is_flag=True, help="Show what would change; change nothing."),
        click.option(
            "--no-reload",
            is_flag=True,
            help="Only write files: no systemctl at all (no stop, daemon-reload or start).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _unit_dir(system: bool, unit_dir: str | None) -> Path:
    from sqlsentinel.systemd.install import default_unit_dir

    return Path(unit_dir).absolute() if unit_dir else default_unit_dir(system)


def _systemctl(system: bool, no_reload: bool) -> Systemctl | None:
    from sqlsentinel.systemd.systemctl import Systemctl

    return None if no_reload else Systemctl(user=not system)


def _report(plan: Plan, dry_run: bool, as_json: bool, started: list[str]) -> None:
    rows = [{"unit": c.unit, "alert": c.alert, "action": c.action} for c in plan.changes]
    emit(rows, COLUMNS, as_json)
    counts = {a: sum(c.action == a for c in plan.changes) for a in ("create", "update", "remove")}
    summary = ", ".join(f"{n} to {a}" if dry_run else f"{n} {a}d" for a, n in counts.items())
    if dry_run:
        click.echo(f"dry run: {summary}; nothing written", err=True)
    elif plan.changed:
        click.echo(f"{summary} in {plan.unit_dir}; started {len(started)} timers", err=True)
    else:
        click.echo(f"nothing changed in {plan.unit_dir}", err=True)


def check_env_file(path: str) -> str:
    """The absolute path of an env file; warns when others may read it."""
    full = os.path.abspath(path)
    try:
        mode = stat.S_IMODE(os.stat(full).st_mode)
    except OSError as exc:
        raise UsageError(f"--env-file {full}: {exc.strerror}") from None
    if mode & 0o037:
        click.echo(
            f"warning: {full} has mode {mode:04o}; secrets belong in a file of mode 0600 or 0640",
            err=True,
        )
    return full


def _warn_unseen_environment(
    used: frozenset[str], given: frozenset[str], env_file: str | None
) -> None:
    """Warn about variables the config read from this shell that the services will not
    have (`given`: those the env file sets)."""
    needed = {name for name in used if name in os.environ} - given
    if needed:
        where = (
            f"add them to {env_file}"
            if env_file
            else "put them in a file (mode 0600) and pass --env-file FILE"
        )
        click.echo(
            f"warning: the config reads {', '.join(sorted(needed))} from the environment, but "
            f"systemd services do not see this shell's environment: {where}",
            err=True,
        )


def _unit_state_db(state_db: str | None) -> str | None:
    """`--state-db` as the units get it: never with a secret, a relative SQLite path made
    absolute (the units run from /, not from here)."""
    from sqlsentinel.dburl import sqlite_here
    from sqlsentinel.redaction import url_has_secret
    from sqlsentinel.systemd.units import STATE_DB_PASSWORD

    if state_db is not None and url_has_secret(state_db):
        raise UsageError(f"--state-db: {STATE_DB_PASSWORD}")
    return state_db and sqlite_here(state_db)


@click.command("install-units")
@config_argument
@_mode_options
@click.option(
    "--exec",
    "exec_path",
    metavar="PATH",
    help="Program the services run (default: this Python with -m sqlsentinel).",
)
@database_url_option
@click.option(
    "--env-file",
    metavar="PATH",
    help="EnvironmentFile= for every service (secrets; mode 0600), also read here to "
    "validate CONFIG as the services will. Values never enter units.",
)
@click.option(
    "--state-db",
    metavar="URL",
    help="State database URL passed to every run (no password or other secret: put such a "
    "URL in the env file as SQLSENTINEL_STATE_DB).",
)
@json_option
def install_units(
    config: str,
    system: bool | None,
    unit_dir: str | None,
    dry_run: bool,
    no_reload: bool,
    exec_path: str | None,
    env_file: str | None,
    state_db: str | None,
    as_json: bool,
) -> None:
    """Install a systemd timer and service for every enabled alert of CONFIG.

    Validates CONFIG first (nothing is written for an invalid one; an alert whose own
    settings are broken is left out, reported, and the command exits 3), keeps the
    validated file as the applied copy the services run (editing CONFIG changes
    nothing until it is applied again), writes only the unit files whose content
    changes, removes the units of alerts that left the config or were disabled,
    runs daemon-reload once when something changed, then starts new and changed
    timers. See docs/systemd.md.
    """
    from sqlsentinel.applied.accept import accept
    from sqlsentinel.applied.host import default_system
    from sqlsentinel.applied.timetable import Launch
    from sqlsentinel.config.read import read_config
    from sqlsentinel.systemd.apply import UnitTarget, install, static_service_user
    from sqlsentinel.systemd.units import UnitOptions

    system = default_system() if system is None else system
    given = frozenset(read_into_environment(env_file) if env_file else ())
    state_db = _unit_state_db(state_db)
    if exec_path is not None and not os.path.isabs(exec_path):
        raise UsageError(f"--exec {exec_path!r} must be an absolute path")
    program = (exec_path,) if exec_path else (sys.executable, "-m", "sqlsentinel")
    launch = Launch(system, program, state_db)
    store = applied_store(config)
    previous = store.timetable(store.meta())
    data, here = read_config(config), fallbacks()
    accepted = accept(
        data, config, store, launch, fallbacks=here, keep=not dry_run, previous=previous
    )
    loaded = accepted.loaded
    for w in loaded.warnings:
        say("warning", w)
    _warn_unseen_environment(loaded.env_used, given, env_file)
    options = UnitOptions(
        system=system,
        command=program,
        config_path=os.path.abspath(config),
        state_db=state_db,
        env_file=check_env_file(env_file) if env_file else None,
        static_user=system and static_service_user(),
    )
    target = UnitTarget(_unit_dir(system, unit_dir), options, _systemctl(system, no_reload))
    installed = install(loaded, accepted.timetable, store, target, dry_run=dry_run)
    _report(installed.plan, dry_run, as_json, installed.started)
    if loaded.broken:  # the others are installed; these are not until their settings are fixed
        for problem in loaded.broken_problems():
            say("error", problem)
        raise SystemExit(ExitCode.CONFIG)


@click.command("uninstall-units")
@click.argument("config", required=False, type=CONFIG_PATH)
@_mode_options
@json_option
def uninstall_units(
    config: str | None,
    system: bool | None,
    unit_dir: str | None,
    dry_run: bool,
    no_reload: bool,
    as_json: bool,
) -> None:
    """Stop and remove the units install-units wrote (only CONFIG's, when given).

    Only the units recorded for CONFIG in that folder's manifest are removed. A unit that
    another of the manager's unit folders also provides (the daemon's, in the runtime
    folder) is not stopped: the manager goes on running that folder's unit.
    """
    from sqlsentinel.applied.host import default_system
    from sqlsentinel.systemd.clashes import spare_others
    from sqlsentinel.systemd.install import apply, plan_uninstall

    system = default_system() if system is None else system
    key = os.path.abspath(config) if config else None
    plan = plan_uninstall(_unit_dir(system, unit_dir), key)
    spare_others(plan, system)
    if not dry_run:
        apply(plan, _systemctl(system, no_reload))
    _report(plan, dry_run, as_json, [])


def _daemon_files(system: bool) -> Path:
    """The folder of the daemon's default config and env file (/etc/sqlsentinel, or
    ~/.config/sqlsentinel)."""
    if system:
        return Path("/etc/sqlsentinel")
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "sqlsentinel"


def _user_daemon_folders() -> tuple[str, ...]:
    """What a user daemon writes: its units in the runtime folder, the applied copies (its
    state directory), the spec cache."""
    from sqlsentinel.config.spec_cache import cache_root
    from sqlsentinel.state.location import state_dir
    from sqlsentinel.systemd.clashes import runtime_unit_dir

    runtime = runtime_unit_dir(False, os.environ)
    folders = [runtime, state_dir(os.environ), cache_root(os.environ)]
    return tuple(str(f) for f in folders if f is not None)


@click.command("install-daemon")
@click.argument("config", required=False, type=CONFIG_PATH)
@manager_option
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False),
    help="Unit folder (default /etc/systemd/system; ~/.config/systemd/user with --user).",
)
@click.option(
    "--exec",
    "exec_path",
    metavar="PATH",
    help="Program the daemon runs (default: this Python with -m sqlsentinel).",
)
@click.option(
    "--env-file",
    metavar="PATH",
    help="EnvironmentFile= of the daemon and its alert services (default: sqlsentinel.env "
    "beside the default config, when it exists).",
)
@click.option("--no-start", is_flag=True, help="Write and enable the unit; do not start it.")
@click.option("--dry-run", is_flag=True, help="Print the unit; change nothing.")
def install_daemon(
    config: str | None,
    system: bool | None,
    unit_dir: str | None,
    exec_path: str | None,
    env_file: str | None,
    no_start: bool,
    dry_run: bool,
) -> None:
    """Install and start the supervisor (`sqlsentinel daemon`) as sqlsentinel.service.

    Writes the daemon's unit for the program that runs this command (a pip install's
    interpreter, or --exec), on CONFIG (default /etc/sqlsentinel/alerts.yaml, or
    ~/.config/sqlsentinel/alerts.yaml with --user), into the manager's unit folder,
    then enables it and starts it (restarts it when the unit changed): the command
    returns once the daemon is ready, and fails (exit 7) when it could not start.
    CONFIG is validated first (exit 3). See docs/install.md.
    """
    from sqlsentinel.applied.host import default_system
    from sqlsentinel.config.env_file import read_env_file
    from sqlsentinel.config.loader import load_file
    from sqlsentinel.systemd.daemon_unit import (
        UNIT,
        daemon_folders,
        for_program,
        install_daemon_unit,
        render_daemon_unit,
    )

    system = default_system() if system is None else system
    if exec_path is not None and not os.path.isabs(exec_path):
        raise UsageError(f"--exec {exec_path!r} must be an absolute path")
    config = os.path.abspath(config or _daemon_files(system) / "alerts.yaml")
    default_env = _daemon_files(system) / "sqlsentinel.env"
    if env_file is not None:
        env_file = check_env_file(env_file)
    elif default_env.is_file():
        env_file = check_env_file(str(default_env))
    given = read_env_file(env_file).values if env_file else {}
    loaded = load_file(config, {**os.environ, **given})  # the daemon's view
    for problem in loaded.broken_problems():
        say("warning", f"{problem} (the daemon leaves this alert out until it is fixed)")
    program = (exec_path,) if exec_path else (sys.executable, "-m", "sqlsentinel")
    writable = () if system else _user_daemon_folders()
    text = render_daemon_unit(
        for_program(system, program, config, env_file, loaded.settings.state_db, writable)
    )
    if dry_run:
        click.echo(text, nl=False)
        return
    folder = _unit_dir(system, unit_dir)
    for path in daemon_folders(system, loaded.settings.state_db, writable):
        if not path.startswith("/run/systemd/"):  # the manager's: it says whether systemd runs
            os.makedirs(path, mode=0o750 if system else 0o700, exist_ok=True)  # ReadWritePaths=
    action = install_daemon_unit(folder, text, _systemctl(system, False), start=not no_start)
    flag = "" if system else " --user"
    done = {"create": "created", "update": "updated", "unchanged": "unchanged"}[action]
    state = "enabled" if no_start else "enabled and running"
    click.echo(f"{UNIT} {done} in {folder}, {state}: systemctl{flag} status {UNIT}", err=True)


@click.command("uninstall-daemon")
@manager_option
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False),
    help="Unit folder (default /etc/systemd/system; ~/.config/systemd/user with --user).",
)
def uninstall_daemon(system: bool | None, unit_dir: str | None) -> None:
    """Stop, disable and remove the sqlsentinel.service that install-daemon wrote.

    The alert timers the daemon applied stay (they are independent units, in the
    manager's runtime folder until the next reboot); remove them with the
    `uninstall-units … --unit-dir` command this prints.
    """
    from sqlsentinel.applied.host import default_system
    from sqlsentinel.systemd.clashes import runtime_unit_dir, uninstall_command
    from sqlsentinel.systemd.daemon_unit import UNIT, uninstall_daemon_unit

    system = default_system() if system is None else system
    folder = _unit_dir(system, unit_dir)
    if not uninstall_daemon_unit(folder, _systemctl(system, False)):
        click.echo(f"no {UNIT} of install-daemon in {folder}", err=True)
        return
    click.echo(f"{UNIT} stopped, disabled and removed from {folder}", err=True)
    runtime = runtime_unit_dir(system, os.environ)
    if runtime is not None and runtime.is_dir():
        click.echo(f"its alert units: {uninstall_command(None, runtime, system)}", err=True)
