"""`validate` and `schedule`: commands that read the config but touch no database."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from sqlsentinel.cli.common import (
    config_argument,
    database_url_option,
    emit,
    env_file_option,
    json_option,
    load_config,
    manager_option,
    say,
)
from sqlsentinel.errors import ConfigError, ExitCode, Problem


@click.command()
@config_argument
@env_file_option
@database_url_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(config: str, strict: bool) -> None:
    """Check CONFIG and report every problem at once (file:line, field, message).

    Also confirms with systemd-analyze (where installed) that systemd parses
    every generated OnCalendar= line, and warns when more alerts start in one
    second than this host can run within a minute. Exits 0 when valid, 3 when not.
    """
    from sqlsentinel.applied.host import burst_warning, default_system
    from sqlsentinel.applied.unit_names import check_unit_names
    from sqlsentinel.state.location import resolve_state_url
    from sqlsentinel.systemd.analyze import verify_with_systemd

    try:
        loaded = load_config(config, allow_broken=True)
    except ConfigError as exc:
        for p in exc.problems:
            say("error", p)
        raise SystemExit(ExitCode.CONFIG) from None
    warnings = list(loaded.warnings)
    state = resolve_state_url(None, loaded.settings.state_db, os.environ)
    burst = burst_warning(loaded.alerts, config, default_system(), datetime.now(UTC), state)
    warnings += [burst] if burst else []
    broken = loaded.broken_problems()
    for p in broken:
        say("error", p)
    for w in warnings:
        say("warning", w)
    systemd_problems = verify_with_systemd(list(loaded.translations.values()))
    systemd_problems += [
        f"alert names {first!r} and {second!r} map to the same systemd unit name; rename one"
        for first, second in check_unit_names([a.name for a in loaded.alerts])
    ]
    for text in systemd_problems:
        say("error", Problem(config, None, "", text))
    if broken or systemd_problems or (strict and warnings):
        raise SystemExit(ExitCode.CONFIG)
    enabled = sum(a.enabled for a in loaded.alerts)
    click.echo(f"ok: {len(loaded.alerts)} alerts ({enabled} enabled) in {config}")


@click.command()
@config_argument
@click.option(
    "--next",
    "count",
    default=5,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many run times to show.",
)
@env_file_option
@database_url_option
@manager_option
@json_option
def schedule(config: str, count: int, system: bool | None, as_json: bool) -> None:
    """Preview each alert's cron, time zone, OnCalendar= lines and next run times.

    Run times include each alert's fixed jitter offset, which systemd derives from
    the machine ID and the manager: the one install-units would use, unless
    --system/--user says otherwise. An invalid config is still previewed as far
    as its schedules go, and exits 3.
    """
    from sqlsentinel.applied.host import default_system, timer_offsets
    from sqlsentinel.config.peek import peek_file
    from sqlsentinel.schedule.preview import preview

    system = default_system() if system is None else system
    offsets: dict[str, timedelta] = {}
    try:
        loaded = load_config(config)
        entries = [(a.name, a.schedule, a.timezone) for a in loaded.alerts]
        offsets = timer_offsets(loaded.alerts, system)
        valid = True
    except ConfigError as exc:
        for p in exc.problems:
            say("error", p)
        entries = list(peek_file(config).schedules)
        valid = False
    rows = preview(entries, count, datetime.now(UTC), offsets)
    for r in rows:
        r["manager"] = "system" if system else "user"
    if as_json:
        emit(rows, (), True)
    else:
        _print_preview(rows)
    if not valid:
        raise SystemExit(ExitCode.CONFIG)


def _print_preview(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        click.echo(f"{r['alert']}: {r['cron']}  ({r['timezone']})")
        for line in r["on_calendar"]:
            click.echo(f"  OnCalendar={line}")
        if r["offset"]:
            click.echo(f"  jitter offset: {r['offset']:.6f}s (in the {r['manager']} manager)")
        for utc, local in zip(r["next"], r["next_local"], strict=True):
            click.echo(f"  next: {utc}  (local {local})")
        for w in r["warnings"]:
            click.echo(f"  warning: {w}")
        if r.get("error"):
            click.echo(f"  error: {r['error']}")
