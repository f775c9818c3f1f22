"""`healthcheck` and `metrics`: is everything reachable, and the state as Prometheus metrics."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sqlsentinel.cli.common import (
    CONFIG_PATH,
    Seconds,
    config_argument,
    emit,
    json_option,
    state_db_option,
)
from sqlsentinel.errors import ConfigError, ExitCode, SentinelError, UsageError
from sqlsentinel.state.location import resolve_state_url


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
@state_db_option
@json_option
def healthcheck(config: str, timeout: float, state_db: str | None, as_json: bool) -> None:
    """Check the config, the state database and every alert database.

    CONFIG must be valid, every alert able to run here (the variables it reads set,
    an SMTP server configured when it sends email), and the state database and every
    alert database must answer.

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
@state_db_option
def metrics(config: str | None, textfile: str | None, state_db: str | None) -> None:
    """Print alert states, runs and pending notifications in Prometheus text format."""
    from sqlsentinel.state.db import StateDB
    from sqlsentinel.state.metrics import metrics_text

    configured = None
    if config is not None:
        from sqlsentinel.config.peek import peek_file

        configured = peek_file(config).state_db
    db = StateDB(resolve_state_url(state_db, configured, os.environ))
    text = metrics_text(db, datetime.now(UTC))
    if textfile is None:
        click.echo(text, nl=False)
        return
    from sqlsentinel.atomic import atomic_write

    try:
        atomic_write(Path(textfile), text.encode(), 0o644)
    except OSError as exc:
        raise UsageError(f"--textfile {textfile}: cannot write: {exc.strerror or exc}") from None
