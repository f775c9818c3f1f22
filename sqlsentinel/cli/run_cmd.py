"""`sqlsentinel run`: the hot path started by every timer tick. Imports only what a run needs."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from sqlsentinel.cli.common import (
    config_argument,
    database_url_option,
    emit,
    env_file_option,
    fallbacks,
    json_option,
    log_to_stderr,
    state_db_option,
)
from sqlsentinel.cli.table import Column, wide_option
from sqlsentinel.core.outcomes import CONFIG_ERROR
from sqlsentinel.errors import ExitCode, StateDBError

if TYPE_CHECKING:
    from sqlsentinel.config.fallbacks import Fallbacks
    from sqlsentinel.core.spec import AlertSpec, Settings
    from sqlsentinel.engine.run import RunSummary
    from sqlsentinel.state.db import StateDB
    from sqlsentinel.state.spool import Spool


def timer_instant(environ: Mapping[str, str]) -> datetime | None:
    """The elapse the timer that started this run handed it (systemd >= 251 sets
    TRIGGER_TIMER_REALTIME_USEC; see engine/scheduled.py for what it means), else None."""
    value = environ.get("TRIGGER_TIMER_REALTIME_USEC", "")
    if not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value) / 1e6, UTC)


def timer_offset(environ: Mapping[str, str]) -> float:
    """The timer's fixed random delay the unit states (SQLSENTINEL_TIMER_OFFSET), else 0."""
    try:
        return max(0.0, float(environ.get("SQLSENTINEL_TIMER_OFFSET", "0")))
    except ValueError:
        return 0.0


def table_wanted(environ: Mapping[str, str], stdout: IO[str]) -> bool:
    """Whether a run prints its table: not when systemd started it and nobody watches.

    Under a unit (INVOCATION_ID set, or stdout is the journal stream JOURNAL_STREAM names)
    with no terminal on stdout, the table would only repeat the `run finished` log line in
    the journal at every tick. A terminal, or a pipe or file outside systemd, gets the table.
    """
    if stdout.isatty():
        return True
    if environ.get("INVOCATION_ID"):
        return False
    try:
        st = os.fstat(stdout.fileno())
    except (OSError, ValueError):  # a stream with no file behind it (a test runner's buffer)
        return True
    return environ.get("JOURNAL_STREAM") != f"{st.st_dev}:{st.st_ino}"


def _applied_copy(folder: str | None, config: str) -> tuple[bytes, Fallbacks] | None:
    """`--applied DIR`: the applied copy of `config` kept there (ConfigError if none)."""
    if folder is None:
        return None
    from sqlsentinel.applied.store import AppliedStore

    return AppliedStore(Path(folder)).read(config)


def _row(s: RunSummary) -> dict[str, Any]:
    """One run's row of output."""
    return {
        "alert": s.alert,
        "run_id": s.run_id,
        "outcome": s.outcome,
        "state": s.state,
        "transition": s.transition,
        "severity": s.severity,
        "actual_value": s.actual_value,
        "threshold": s.threshold,
        "error": s.error,
        "notifications": [n.to_json() for n in s.notifications],
        "notified": ", ".join(f"{n.channel}:{n.outcome}" for n in s.notifications) or None,
        **({"instances": s.instances} if s.instances is not None else {}),
    }


COLUMNS = (
    Column("alert"), Column("outcome"), Column("state"), Column("transition", keep=8),
    Column("actual_value", "VALUE", keep=7), Column("threshold", keep=6),
    Column("notified", keep=9, optional=True, weight=2), Column("error", optional=True, weight=2),
)  # fmt: skip


def _found(row: Mapping[str, Any]) -> str | None:
    """The row's other columns, `region=eu, n=3`: what the check found besides its value."""
    return ", ".join(f"{k}={_plain(v)}" for k, v in (row.get("context") or {}).items()) or None


def _plain(value: Any) -> str:
    import json

    from sqlsentinel.jsonsafe import to_jsonable

    plain = to_jsonable(value)
    return plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)


def _instances(row: Mapping[str, Any]) -> str | None:
    from sqlsentinel.cli.instance_views import instances_text

    return instances_text(row.get("instances"))


DRY_RUN_COLUMNS = (
    Column("alert"), Column("outcome"), Column("state"), Column("transition", keep=8),
    Column("actual_value", "VALUE", keep=7), Column("threshold", keep=6),
    Column("instances", show=_instances, keep=7, optional=True),
    Column("context", "FOUND", _found, keep=3, optional=True),
    Column("would_notify", show=lambda r: ", ".join(r.get("would_notify") or ()) or None,
           weight=2),
    Column("error", optional=True, weight=2),
)  # fmt: skip


@click.command()
@config_argument
@click.option(
    "--alert", "alerts", multiple=True, metavar="NAME", help="Run only this alert (repeatable)."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Query and evaluate; show what was found and what would be sent; change nothing.",
)
@click.option(
    "--triggered-by",
    type=click.Choice(["MANUAL", "CRON"], case_sensitive=False),
    default="MANUAL",
    show_default=True,
    help="Recorded in history; systemd timers pass CRON.",
)
@click.option(
    "--applied",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Run the copy of CONFIG applied in DIR (what timers run), not the file on disk.",
)
@env_file_option
@database_url_option
@state_db_option
@json_option
@wide_option
def run(
    config: str,
    alerts: tuple[str, ...],
    dry_run: bool,
    triggered_by: str,
    applied: str | None,
    state_db: str | None,
    as_json: bool,
    wide: bool,
) -> None:
    """Run alerts now: query, evaluate, record the run, and notify.

    Exits 0 when every check ran (whether it found OK or ALERT), 1 when a check
    failed, 3 when an alert's own settings are broken (an unset variable it reads, say:
    it is recorded as an ERROR run with outcome config_error, and the other alerts run),
    4 when the result could not be recorded (it is kept and recorded by the next run),
    5 when a notification could not be delivered (it is retried next run).
    --dry-run exits as the run would and changes nothing.
    """
    log_to_stderr(logging.INFO)
    from sqlsentinel.config.run_loader import load_for_run
    from sqlsentinel.state.db import StateDB
    from sqlsentinel.state.location import resolve_state_url

    selection = load_for_run(
        config, alerts, applied=_applied_copy(applied, config), here=fallbacks()
    )
    settings, specs, broken = selection.settings, selection.alerts, selection.broken
    db = StateDB(resolve_state_url(state_db, settings.state_db, os.environ))
    if dry_run:
        _dry_run(specs, broken, settings, db, as_json, wide)
        return
    from sqlsentinel.engine.run import Trigger, record_broken, run_alert
    from sqlsentinel.procinfo import launched_at

    handed, launched = timer_instant(os.environ), launched_at()
    if handed is not None:  # the launch is known to a clock tick (10 ms): never before it
        launched = max(launched, handed)
    trigger = Trigger(triggered_by.upper(), handed, launched, timer_offset(os.environ))
    spool = _spool(db, config)
    summaries = [run_alert(a, settings, db, trigger, spool) for a in specs]
    summaries += [record_broken(n, e, settings, db, trigger) for n, e in broken.items()]
    _report(summaries, bool(broken), as_json, wide)


def _spool(db: StateDB, config: str) -> Spool | None:
    """Where a result that cannot be recorded is kept (None: no state folder to keep it in)."""
    from sqlsentinel.state.location import spool_dir
    from sqlsentinel.state.spool import Spool

    try:
        return Spool(spool_dir(os.environ), db.identity, os.path.abspath(config))
    except StateDBError:
        return None


def _report(summaries: list[RunSummary], broken: bool, as_json: bool, wide: bool) -> None:
    """Print what each run did and exit with the code that tells systemd the truth."""
    rows = [_row(s) for s in summaries]
    columns: tuple[Column, ...] = COLUMNS
    if any(s.instances is not None for s in summaries):  # a per-row alert ran
        from sqlsentinel.cli.instance_views import instances_text, with_instances

        columns = with_instances(COLUMNS, rows)
        for r in [] if as_json else rows:
            r["instances"] = instances_text(r.get("instances"))
    if as_json or table_wanted(os.environ, sys.stdout):
        emit(rows, columns, as_json, wide=wide)
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


def _dry_run(
    specs: list[AlertSpec], broken: Mapping[str, str], settings: Settings, db: StateDB,
    as_json: bool, wide: bool,
) -> None:  # fmt: skip
    """Show what a run would find and send; exit as that run would (3, or 1 when a check
    fails)."""
    from sqlsentinel.engine.dry_run import dry_run_alert

    rows = [dry_run_alert(a, settings, db) for a in specs]
    rows += [{"alert": n, "outcome": CONFIG_ERROR, "error": e} for n, e in broken.items()]
    emit(rows, DRY_RUN_COLUMNS, as_json, wide=wide)
    if broken:
        sys.exit(int(ExitCode.CONFIG))
    if any(r["check_failed"] for r in rows):
        sys.exit(int(ExitCode.CHECK_FAILED))
