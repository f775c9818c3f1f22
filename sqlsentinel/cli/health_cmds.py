"""`healthcheck` and `metrics`: is everything reachable, and the state as Prometheus metrics."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sqlsentinel.cli.common import (
    CONFIG_PATH,
    Seconds,
    config_argument,
    database_url_option,
    emit,
    env_file_option,
    fallbacks,
    json_option,
    state_db_option,
)
from sqlsentinel.errors import ConfigError, ExitCode, SentinelError, UsageError
from sqlsentinel.state.location import resolve_state_url

if TYPE_CHECKING:
    from sqlsentinel.applied.current import Current
    from sqlsentinel.applied.staleness import Staleness


@click.command()
@config_argument
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=Seconds(3600),
    metavar="SECONDS",
    help="Seconds per database check.",
)
@env_file_option
@database_url_option
@state_db_option
@json_option
def healthcheck(config: str, timeout: float, state_db: str | None, as_json: bool) -> None:
    """Check the config, the state database and every alert database.

    CONFIG must be valid, every alert able to run here (the variables it reads set,
    an SMTP server configured when it sends email), the state database and every
    alert database must answer, a daemon that runs CONFIG must have a fresh heartbeat,
    and no enabled alert may have missed a scheduled run (be stale: no run since a
    tick plus its stale_after). Run it from a monitoring system or a timer.

    Exits 0 when all checks pass, 6 when any fails.
    """
    from sqlsentinel.cli.common import load_config
    from sqlsentinel.engine.query import run_query
    from sqlsentinel.state.db import StateDB

    rows: list[dict[str, Any]] = []
    try:
        loaded = load_config(config, allow_broken=True)
    except ConfigError as exc:
        rows.append({"check": "config", "ok": False, "detail": str(exc).replace("\n", "; ")})
        emit(rows, ("check", "ok", "detail"), as_json)
        raise SystemExit(ExitCode.UNHEALTHY) from None
    rows.append({"check": "config", "ok": True, "detail": f"{len(loaded.alerts)} alerts"})
    rows += _alert_rows(loaded)
    try:
        db = StateDB(resolve_state_url(state_db, loaded.settings.state_db, os.environ))
        version = db.schema_version()
        detail = f"schema v{version}" if version else "reachable; schema not created yet"
        rows.append({"check": "state database", "ok": True, "detail": detail})
        rows += _daemon_rows(db, config)
        rows += _stale_rows(db, config, loaded)
    except SentinelError as exc:
        rows.append({"check": "state database", "ok": False, "detail": str(exc)})
    seen: set[str] = set()
    for alert in loaded.alerts:
        if alert.database.url in seen:
            continue
        seen.add(alert.database.url)
        result = run_query(alert.database, "SELECT 'OK' AS status", timeout)
        from sqlsentinel.redaction import redact

        rows.append(
            {
                "check": f"database {alert.database.name} ({redact(alert.database.url)})",
                "ok": result.outcome == "ok",
                "detail": result.error or "reachable",
            }
        )
    emit(rows, ("check", "ok", "detail"), as_json)
    if not all(r["ok"] for r in rows):
        raise SystemExit(ExitCode.UNHEALTHY)


def _daemon_rows(db: Any, config: str) -> list[dict[str, Any]]:
    """A row for the daemon running CONFIG, if one ever ran: it fails when its heartbeat
    is stale (it should be running and is not)."""
    from sqlsentinel.state.daemon_state import read_daemon_status

    now = datetime.now(UTC)
    rows = []
    for d in read_daemon_status(db, os.path.abspath(config)):
        ago = int((now - d.beat.beat_at).total_seconds())
        if d.beat.stopped_at is not None:
            detail = f"stopped at {d.beat.stopped_at:%Y-%m-%d %H:%M:%S} UTC"
        elif d.stale(now):
            detail = f"no heartbeat for {ago}s (pid {d.beat.pid} on {d.beat.host}): not running"
        else:
            detail = f"running ({d.beat.backend}, heartbeat {ago}s ago): {d.beat.status}"
        rows.append({"check": "daemon", "ok": not d.stale(now), "detail": detail})
    return rows


def _stale_rows(db: Any, config: str, loaded: Any) -> list[dict[str, Any]]:
    """A failed check for each alert that missed a scheduled run; one passed check else."""
    try:
        from sqlsentinel.applied.current import current

        found = _staleness(current(config, fallbacks=fallbacks()), db, datetime.now(UTC), loaded)
    except ConfigError as exc:
        detail = f"cannot load the applied config here: {str(exc).splitlines()[0]}"
        return [{"check": "missed runs", "ok": False, "detail": detail}]
    rows = [
        {"check": f"alert {s.alert}", "ok": False, "detail": f"stale: {s.describe()}"}
        for s in found
        if s.stale
    ]
    return rows or [
        {"check": "missed runs", "ok": True, "detail": f"none ({len(found)} enabled alerts)"}
    ]


def _staleness(applied: Current, db: Any, now: datetime, loaded: Any = None) -> list[Staleness]:
    """How each alert that runs stands (the applied timetable; without one, the config
    validated here, warning for each alert that cannot be loaded)."""
    from sqlsentinel.applied.staleness import timetable_staleness
    from sqlsentinel.cli.common import say
    from sqlsentinel.state.listings import last_runs

    table = applied.running(lambda message: say("warning", message), loaded)
    return timetable_staleness(table, last_runs(db), now)


def _alert_rows(loaded: Any) -> list[dict[str, Any]]:
    """A failed check for each alert that cannot run here: its own settings are broken,
    or it sends email and no SMTP server is configured."""
    from sqlsentinel.config.smtp_env import unmet_smtp

    rows = [
        {"check": f"alert {name}", "ok": False, "detail": "; ".join(map(str, problems))}
        for name, problems in loaded.broken.items()
    ]
    for alert in loaded.alerts:
        unmet = unmet_smtp(alert, loaded.settings)
        if unmet is not None:
            rows.append({"check": f"alert {alert.name}", "ok": False, "detail": str(unmet)})
    return rows


@click.command()
@click.argument("config", required=False, type=CONFIG_PATH)
@click.option(
    "--textfile",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Write atomically to PATH (for node_exporter's textfile collector).",
)
@env_file_option
@database_url_option
@state_db_option
def metrics(config: str | None, textfile: str | None, state_db: str | None) -> None:
    """Print alert states, run and notification counters in Prometheus text format.

    With CONFIG, also whether each alert missed a scheduled run (sqlsentinel_alert_stale).
    A per-row alert (key:) also exports each instance, its key columns as labels: at
    most its max_instances (read from CONFIG; 1000 without it), firing ones first.
    The families and their labels: docs/metrics.md.
    """
    from sqlsentinel.state.db import StateDB
    from sqlsentinel.state.metrics import metrics_text

    configured, caps, applied = None, {}, None
    if config is not None:
        from sqlsentinel.applied.current import current

        applied = current(config, fallbacks=fallbacks())
        peek = applied.peek()
        configured, caps = peek.state_db, peek.max_instances
    db = StateDB(resolve_state_url(state_db, configured, os.environ))
    now = datetime.now(UTC)
    text = metrics_text(db, now, caps)
    if applied is not None:
        text += _stale_metrics(applied, db, now)
    body = text.encode()
    if textfile is None:  # the bytes unchanged: click.echo would strip escape sequences
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    from sqlsentinel.atomic import atomic_write

    try:
        atomic_write(Path(textfile), body, 0o644)
    except OSError as exc:
        raise UsageError(f"--textfile {textfile}: cannot write: {exc.strerror or exc}") from None


def _stale_metrics(applied: Current, db: Any, now: datetime) -> str:
    """The stale families of CONFIG's alerts (none, with a warning, when it does not load)."""
    from sqlsentinel.applied.staleness import staleness_metrics
    from sqlsentinel.cli.common import say

    try:
        return staleness_metrics(_staleness(applied, db, now))
    except ConfigError as exc:
        say("warning", f"missed runs not exported: {str(exc).splitlines()[0]}")
        return ""
