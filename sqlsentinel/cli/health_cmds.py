"""`healthcheck` and `metrics`: is everything reachable, and the state as Prometheus metrics."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sqlsentinel.cli.common import config_argument, emit, json_option, state_db_option
from sqlsentinel.errors import ConfigError, ExitCode, SentinelError
from sqlsentinel.state.location import resolve_state_url

STATES = ("OK", "PENDING", "ALERT", "ERROR")


@click.command()
@config_argument
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, 3600, min_open=True),
    help="Seconds per database check.",
)
@state_db_option
@json_option
def healthcheck(config: str, timeout: float, state_db: str | None, as_json: bool) -> None:
    """Check that CONFIG is valid and the state database and every alert database answer.

    Exits 0 when all checks pass, 6 when any fails.
    """
    from sqlsentinel.cli.common import load_config
    from sqlsentinel.engine.query import run_query
    from sqlsentinel.state.db import StateDB

    rows: list[dict[str, Any]] = []
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        rows.append({"check": "config", "ok": False, "detail": str(exc).replace("\n", "; ")})
        emit(rows, ("check", "ok", "detail"), as_json)
        raise SystemExit(ExitCode.UNHEALTHY) from None
    rows.append({"check": "config", "ok": True, "detail": f"{len(loaded.alerts)} alerts"})
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
        from sqlsentinel.dburl import redact

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


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--textfile",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Write atomically to PATH (for node_exporter's textfile collector).",
)
@state_db_option
def metrics(config: str | None, textfile: str | None, state_db: str | None) -> None:
    """Print alert states, runs and pending notifications in Prometheus text format."""
    from sqlsentinel.state import store
    from sqlsentinel.state.db import StateDB

    configured = None
    if config is not None:
        from sqlsentinel.config.peek import peek_file

        configured = peek_file(config).state_db
    db = StateDB(resolve_state_url(state_db, configured, os.environ))
    now = datetime.now(UTC)
    has_schema = db.schema_version() > 0
    text = render_metrics(
        store.states(db, now) if has_schema else [],
        store.active_silences(db, now) if has_schema else {},
        store.run_counts(db) if has_schema else [],
        store.pending_count(db) if has_schema else {},
    )
    if textfile is None:
        click.echo(text, nl=False)
        return
    target = Path(textfile)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: Any) -> float | None:
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def render_metrics(
    states: list[dict[str, Any]],
    silenced: dict[str, Any],
    runs: list[dict[str, Any]],
    pending: dict[str, int],
) -> str:
    """The Prometheus text exposition of the state database."""
    out: list[str] = []

    def family(
        name: str, kind: str, help_: str, samples: list[tuple[dict[str, str], float]]
    ) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            shown = str(int(value)) if value.is_integer() else repr(value)
            out.append(f"{name}{{{text}}} {shown}")

    family(
        "sqlsentinel_alert_state",
        "gauge",
        "1 for the alert's current state, else 0.",
        [
            ({"alert": s["alert"], "state": st}, float(s["state"] == st))
            for s in states
            for st in STATES
        ],
    )
    family(
        "sqlsentinel_alert_state_since_timestamp_seconds",
        "gauge",
        "When the current state began.",
        [({"alert": s["alert"]}, s["since"].timestamp()) for s in states],
    )
    family(
        "sqlsentinel_alert_last_run_timestamp_seconds",
        "gauge",
        "When the alert last ran.",
        [
            ({"alert": s["alert"]}, s["last_run_at"].timestamp())
            for s in states
            if s.get("last_run_at")
        ],
    )
    values = [(s["alert"], _number(s.get("last_value"))) for s in states]
    family(
        "sqlsentinel_alert_last_value",
        "gauge",
        "The last actual_value, when numeric.",
        [({"alert": a}, v) for a, v in values if v is not None],
    )
    family(
        "sqlsentinel_alert_silenced",
        "gauge",
        "1 while a silence is active.",
        [({"alert": s["alert"]}, float(s["alert"] in silenced)) for s in states],
    )
    family(
        "sqlsentinel_runs_in_history",
        "gauge",
        "Runs kept in history (within the retention), by outcome.",
        [({"alert": r["alert"], "outcome": r["outcome"]}, float(r["count"])) for r in runs],
    )
    family(
        "sqlsentinel_notifications_pending",
        "gauge",
        "Notifications not yet delivered.",
        [({"alert": a}, float(n)) for a, n in sorted(pending.items())],
    )
    return "\n".join(out) + "\n"
