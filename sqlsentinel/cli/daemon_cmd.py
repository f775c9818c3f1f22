"""`daemon` (the supervisor, or the scheduler where there is no systemd) and `reload`."""

from __future__ import annotations

import os
import signal
from typing import Any

import click

from sqlsentinel.cli.common import DATABASE_URL_HELP, config_argument, state_db_option
from sqlsentinel.errors import ConfigError, ExitCode, UsageError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _given(ctx: click.Context, name: str) -> bool:
    """True when option `name` was on the command line (not from the environment)."""
    return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def _fallbacks(ctx: click.Context, timezone: str | None, database_url: str | None) -> Any:
    from sqlsentinel.config.fallbacks import Fallbacks
    from sqlsentinel.schedule.translate import ScheduleError, check_zone

    if timezone is not None:
        try:
            check_zone(timezone)
        except ScheduleError as exc:
            raise UsageError(f"--timezone: {exc}") from None
    given = _given(ctx, "database_url")
    return Fallbacks.here(os.environ, database_url if given else None, timezone=timezone)


def _env_file(path: str | None) -> str | None:
    """`--env-file`: used when it exists (packages ship it; without it, services get none)."""
    if path is None:
        return None
    if not os.path.exists(path):
        click.echo(f"warning: --env-file {path} does not exist: the services get none", err=True)
        return None
    from sqlsentinel.cli.common import read_into_environment
    from sqlsentinel.cli.units_cmd import check_env_file

    read_into_environment(path)  # what the services see, the daemon validates with
    return check_env_file(path)


def _options(ctx: click.Context, config: str, **kw: Any) -> Any:
    from sqlsentinel.applied.host import default_system
    from sqlsentinel.daemon.setup import DaemonOptions
    from sqlsentinel.dburl import sqlite_here
    from sqlsentinel.redaction import url_has_secret

    env_file = _env_file(kw["env_file"])  # first: DATABASE_URL may come from it
    state_db = kw["state_db"]
    from_command_line = (
        ctx.get_parameter_source("state_db") == click.core.ParameterSource.COMMANDLINE
    )
    return DaemonOptions(
        config=os.path.abspath(config),
        state_db=state_db,
        unit_state_db=sqlite_here(state_db)  # the units run from /
        if from_command_line and state_db and not url_has_secret(state_db)
        else None,
        fallbacks=_fallbacks(ctx, kw["timezone"], kw["database_url"]),
        watch=kw["reload"],
        backend=kw["backend"],
        system=default_system() if kw["system"] is None else kw["system"],
        unit_dir=os.path.abspath(kw["unit_dir"]) if kw["unit_dir"] else None,
        env_file=env_file,
        max_running=kw["max_running"] or 2 * (os.cpu_count() or 1),
    )


@click.command()
@config_argument
@state_db_option
@click.option(
    "--database-url",
    metavar="URL",
    help=DATABASE_URL_HELP,
)
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Watch CONFIG and apply each valid change (SIGHUP always reloads).",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="INFO")
@click.option("--timezone", metavar="TZ", help="Time zone of alerts that set none (IANA name).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    metavar="PORT",
    envvar="PORT",
    help="Serve /health, /ready and /metrics on this port (env PORT; default: no port).",
)
@click.option(
    "--bind",
    metavar="ADDRESS",
    default="127.0.0.1",
    show_default=True,
    help="Where --port listens.",
)
@click.option(
    "--backend",
    type=click.Choice(("auto", "systemd", "local")),
    default="auto",
    show_default=True,
    help="systemd: write timers; local: run the alerts itself. auto: systemd where it runs.",
)
@click.option(
    "--system/--user",
    "system",
    default=None,
    help="The system manager (default for root) or your user manager.",
)
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False),
    help="Unit folder (default /run/systemd/system; $XDG_RUNTIME_DIR/systemd/user with --user).",
)
@click.option(
    "--env-file",
    metavar="PATH",
    help="EnvironmentFile= of the alert services (secrets), also read here for the variables "
    "not set.",
)
@click.option(
    "--max-running",
    type=click.IntRange(1),
    help="Local backend: checks running at once (default: twice the CPUs).",
)
@click.pass_context
def daemon(
    ctx: click.Context, /, config: str, log_level: str, port: int | None, bind: str, **kw: Any
) -> None:
    """Keep CONFIG applied and its alerts scheduled, with or without systemd.

    The supervisor of CONFIG's systemd timers or, where systemd is not running,
    the scheduler that runs the alerts itself.

    Applies CONFIG as install-units does (systemd backend) or schedules each alert
    at the instants its timer would fire (local backend), then watches CONFIG: a
    valid change is applied, an invalid one changes nothing and is logged with
    file:line. SIGHUP reloads, SIGTERM stops (exit 0). Exits 3 when CONFIG is
    invalid at the first start and nothing was applied before. See docs/daemon.md.
    """
    from sqlsentinel.daemon import logs
    from sqlsentinel.daemon.setup import build

    logs.configure(log_level.upper(), os.environ)
    options = _options(ctx, config, **kw)
    supervisor = build(options, os.environ)
    signal.signal(signal.SIGTERM, lambda *_: supervisor.stop())
    signal.signal(signal.SIGINT, lambda *_: supervisor.stop())
    signal.signal(signal.SIGHUP, lambda *_: supervisor.request_reload())
    signal.signal(signal.SIGCHLD, lambda *_: supervisor.wake())
    server = None
    if port is not None:  # first, so /health and /ready answer (503) while starting
        from sqlsentinel.daemon.http import Probes, ProbeServer

        probes = Probes(supervisor.health, supervisor.ready, supervisor.metrics)
        server = ProbeServer(bind, port, probes)
        server.start()
    try:
        supervisor.start()
    except ConfigError:
        click.echo(f"error: {config} is invalid and no config was applied before", err=True)
        raise SystemExit(ExitCode.CONFIG) from None
    code = supervisor.run()
    if server is not None:
        server.stop()
    raise SystemExit(code)


@click.command("reload")
@click.option("--pid", type=int, required=True, help="The daemon's process id ($MAINPID).")
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds to wait for the daemon.",
)
def reload_daemon(pid: int, timeout: float) -> None:
    """Make a running daemon re-read its config; return when it has applied it.

    For ExecReload= (systemctl reload returns only then). Prints how the reload
    ended. Exits 0 when the config is applied (or unchanged), 3 when it is
    invalid (nothing changed), 6 when the daemon did not answer in time.
    """
    from sqlsentinel.core.reload import ReloadResult
    from sqlsentinel.daemon.reload_ack import request_reload

    try:
        state = request_reload(pid, os.environ, timeout)
    except OSError as exc:
        raise UsageError(f"cannot reload process {pid}: {exc.strerror or exc}") from None
    if state is None:
        click.echo(f"error: daemon {pid} did not finish a reload within {timeout:g}s", err=True)
        raise SystemExit(ExitCode.UNHEALTHY)
    click.echo(state.result)
    if state.outcome is ReloadResult.REJECTED:
        raise SystemExit(ExitCode.CONFIG)
    if state.outcome is ReloadResult.FAILED:
        raise SystemExit(ExitCode.SYSTEMD)
