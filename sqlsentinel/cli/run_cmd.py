"""`sqlsentinel run`: the hot path started by every timer tick. Imports only what a run needs."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from sqlsentinel.cli.common import (
    config_argument,
    emit,
    json_option,
    log_to_stderr,
    state_db_option,
)
from sqlsentinel.core.outcomes import CONFIG_ERROR
from sqlsentinel.errors import ExitCode

if TYPE_CHECKING:
    from sqlsentinel.engine.run import RunSummary


def timer_instant(environ: Mapping[str, str]) -> datetime | None:
    """When the timer that started this run was scheduled to elapse (systemd >= 251 sets
    TRIGGER_TIMER_REALTIME_USEC for a service its timer starts), else None."""
    value = environ.get("TRIGGER_TIMER_REALTIME_USEC", "")
    if not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value) / 1e6, UTC)


COLUMNS = (
    "alert",
    "outcome",
    "state",
    "transition",
    "actual_value",
    "threshold",
    "notified",
    "error",
)


def _row(s: RunSummary) -> dict[str, object]:
    notified = ", ".join(f"{n['channel']}:{n['outcome']}" for n in s.notifications)
    return {
        "alert": s.alert,
        "run_id": s.run_id,
        "outcome": s.outcome,
        "state": s.state,
        "transition": s.transition,
        "actual_value": s.actual_value,
        "threshold": s.threshold,
        "error": s.error,
        "notifications": s.notifications,
        "notified": notified or None,
    }


@click.command()
@config_argument
@click.option(
    "--alert", "alerts", multiple=True, metavar="NAME", help="Run only this alert (repeatable)."
)
@click.option(
    "--dry-run", is_flag=True, help="Query and evaluate, show what would be sent; change nothing."
)
@click.option(
    "--triggered-by",
    type=click.Choice(["MANUAL", "CRON"], case_sensitive=False),
    default="MANUAL",
    show_default=True,
    help="Recorded in history; systemd timers pass CRON.",
)
@state_db_option
@json_option
def run(
    config: str,
    alerts: tuple[str, ...],
    dry_run: bool,
    triggered_by: str,
    state_db: str | None,
    as_json: bool,
) -> None:
    """Run alerts now: query, evaluate, record the run, and notify.

    Exits 0 when every check ran (whether it found OK or ALERT), 1 when a check
    failed, 5 when a notification could not be delivered (it is retried next run),
    3 when an alert's own settings are broken (an unset variable it reads, say: it is
    recorded as an ERROR run with outcome config_error, and the other alerts run).
    """
    log_to_stderr(logging.INFO)
    from sqlsentinel.config.run_loader import load_for_run
    from sqlsentinel.state.db import StateDB
    from sqlsentinel.state.location import resolve_state_url

    selection = load_for_run(config, alerts)
    settings, specs, broken = selection.settings, selection.alerts, selection.broken
    db = StateDB(resolve_state_url(state_db, settings.state_db, os.environ))
    if dry_run:
        from sqlsentinel.engine.dry_run import dry_run_alert

        rows = [dry_run_alert(a, settings, db) for a in specs]
        for r in rows:
            r["would_notify"] = [f"{m['target']} ({r['transition']})" for m in r["would_send"]]
        rows += [{"alert": n, "outcome": CONFIG_ERROR, "error": e} for n, e in broken.items()]
        emit(rows, ("alert", "outcome", "state", "transition", "would_notify", "error"), as_json)
        if broken:
            sys.exit(int(ExitCode.CONFIG))
        return
    db.ensure_schema()
    from sqlsentinel.engine.run import record_broken, run_alert

    scheduled_at = timer_instant(os.environ)
    summaries = [run_alert(a, settings, db, triggered_by.upper(), scheduled_at) for a in specs]
    summaries += [
        record_broken(name, error, settings, db, triggered_by.upper(), scheduled_at)
        for name, error in broken.items()
    ]
    emit([_row(s) for s in summaries], COLUMNS, as_json)
    code = ExitCode.OK
    if broken:
        code = ExitCode.CONFIG
    elif any(s.check_failed for s in summaries):
        code = ExitCode.CHECK_FAILED
    elif any(s.delivery_failed for s in summaries):
        code = ExitCode.DELIVERY_FAILED
    if any(s.hung for s in summaries):  # a driver ignored cancellation: do not wait for its thread
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code))
    sys.exit(int(code))
