"""Commands over the state database: init, status, history, deliveries, silence, unsilence."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from sqlsentinel.cli.common import CONFIG_PATH, config_argument, emit, json_option, state_db_option
from sqlsentinel.config.peek import ConfigPeek, peek_file
from sqlsentinel.durations import parse_duration
from sqlsentinel.errors import UsageError
from sqlsentinel.state import listings
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.location import resolve_state_url
from sqlsentinel.state.silences import active_silences, add_silence, end_silences


def _open(config: str | None, state_db: str | None) -> tuple[StateDB, ConfigPeek | None]:
    """The state DB (from --state-db, the config, or the default) and what the config names.

    The config is only peeked at: reading state needs neither valid alerts nor secrets.
    """
    peek = peek_file(config) if config is not None else None
    db = StateDB(resolve_state_url(state_db, peek.state_db if peek else None, os.environ))
    return db, peek


def _when(text: str | None) -> datetime | None:
    """`--since`: an ISO-8601 time or a duration ago (`2h`, `1d`)."""
    if text is None:
        return None
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since: {text!r} is neither a duration (2h, 1d) nor an ISO-8601 time"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _known_alert(peek: ConfigPeek | None, name: str, config: str) -> None:
    if peek is not None and name not in peek.alert_names:
        from sqlsentinel.config.run_loader import unknown_alert

        raise UsageError(unknown_alert(name, peek.alert_names, config))


@click.command()
@click.argument("config", required=False, type=CONFIG_PATH)
@state_db_option
def init(config: str | None, state_db: str | None) -> None:
    """Create the state database schema, or upgrade an older one. Safe to run twice."""
    db, _ = _open(config, state_db)
    before, after = db.ensure_schema()
    if before == after:
        click.echo(f"state database is up to date (schema v{after})")
    elif before == 0:
        click.echo(f"created state database schema v{after}")
    else:
        click.echo(f"upgraded state database schema v{before} -> v{after}")


@click.command()
@click.argument("config", required=False, type=CONFIG_PATH)
@state_db_option
@json_option
def status(config: str | None, state_db: str | None, as_json: bool) -> None:
    """Each alert's state, since when and why, its silence and its timer.

    The timer's next and last run come from systemd where install-units installed it,
    the next run from the daemon while it runs. With CONFIG, also says (on stderr)
    which config is applied, whether the file differs and why, and how the daemon is,
    and shows the run an alert missed (MISSED_RUN) while it is stale.
    """
    db, loaded = _open(config, state_db)
    now = datetime.now(UTC)
    has_schema = db.schema_version() > 0
    rows = listings.states(db) if has_schema else []
    if loaded is not None:
        known = {r["alert"] for r in rows}
        rows += [
            {"alert": a, "state": "NEVER_RUN", "since": None, "reason": None}
            for a in loaded.alert_names
            if a not in known
        ]
        configured = set(loaded.alert_names)
        rows = [r for r in rows if r["alert"] in configured]
        _add_timers(rows, loaded)
        _add_daemon(rows, db, loaded.source, now)
        _add_missed_runs(rows, db, loaded.source, now)
    pending = listings.pending_count(db) if has_schema else {}
    silenced = active_silences(db, now) if has_schema else {}
    for r in rows:
        s = silenced.get(r["alert"])
        r["silenced_until"] = s["ends_at"] if s else None
        r["silence_reason"] = s["reason"] if s else None
        r["silenced_by"] = s["created_by"] if s else None
        r["undelivered"] = pending.get(r["alert"], 0)
        r["last_value"] = _decode_json(r.get("last_value"))
        r["last_threshold"] = _decode_json(r.get("last_threshold"))
    rows.sort(key=lambda r: r["alert"])
    emit(
        rows,
        (
            "alert",
            "state",
            "since",
            "reason",
            "last_value",
            "silenced_until",
            "next_run",
            "last_run",
            "missed_run",
            "undelivered",
        ),
        as_json,
    )


def _add_missed_runs(rows: list[dict[str, Any]], db: StateDB, config: str, now: datetime) -> None:
    """`stale` and `missed_run` of each enabled alert (stale None: not checked, or disabled)."""
    from sqlsentinel.cli.missed_runs import config_staleness
    from sqlsentinel.errors import ConfigError

    try:
        found = {s.alert: s for s in config_staleness(config, db, now)}
    except ConfigError as exc:
        click.echo(f"missed runs: not checked: {str(exc).splitlines()[0]}", err=True)
        found = {}
    for r in rows:
        s = found.get(r["alert"])
        r["stale"] = s.stale if s else None
        r["missed_run"] = s.missed_tick if s else None


def _decode_json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _add_daemon(rows: list[dict[str, Any]], db: StateDB, config: str, now: datetime) -> None:
    """Say which config is applied and how its daemon is; take next runs from a live one."""
    from sqlsentinel.cli.common import applied_store
    from sqlsentinel.config.read import read_config
    from sqlsentinel.errors import ConfigError
    from sqlsentinel.state.daemon_state import read_daemon_status

    meta = applied_store(config).meta()
    try:
        on_disk: bytes | None = read_config(config)
    except ConfigError:
        on_disk = None
    if meta is None or meta.applied_at is None:
        line = "not applied yet (install-units or the daemon applies it)"
        if meta is not None:
            line += f"; {meta.describe(on_disk)}"
    else:
        when = meta.applied_at.strftime("%Y-%m-%d %H:%M UTC")
        line = f"applied {when} (sha256 {meta.sha256}); {meta.describe(on_disk)}"
    click.echo(f"config {config}: {line}", err=True)
    for d in read_daemon_status(db, os.path.abspath(config)):
        ago = int((now - d.beat.beat_at).total_seconds())
        how = "stopped" if d.beat.stopped_at else "STALE" if d.stale(now) else "running"
        where = f"{d.beat.backend} backend, pid {d.beat.pid} on {d.beat.host}"
        click.echo(f"daemon: {how} ({where}, heartbeat {ago}s ago): {d.beat.status}", err=True)
        if d.running(now):
            for r in rows:
                r["next_run"] = d.next_runs.get(r["alert"], r.get("next_run"))


def _add_timers(rows: list[dict[str, Any]], loaded: ConfigPeek) -> None:
    """Add systemd's next/last trigger times where units are installed (best effort)."""
    try:
        from sqlsentinel.systemd.timers import installed_timer_info
    except ImportError:
        return
    info = installed_timer_info([r["alert"] for r in rows], loaded.source)
    for r in rows:
        t = info.get(r["alert"], {})
        r["next_run"] = t.get("next")
        r["last_run"] = t.get("last")


HISTORY_COLUMNS = (
    "finished_at", "alert", "triggered_by", "outcome", "state", "transition", "actual_value",
    "duration_ms", "lateness_ms", "error",
)  # fmt: skip
DELIVERY_COLUMNS = (
    "started_at", "alert", "channel", "target", "attempt", "outcome", "status_code",
    "error_class", "latency_ms", "event_id",
)  # fmt: skip


def _listing(
    what: str, query: Callable[..., list[dict[str, Any]]], columns: tuple[str, ...]
) -> Callable[[Callable[..., None]], click.Command]:
    """A listing command over the state database: --alert, --limit, --since, --json."""

    def build(f: Callable[..., None]) -> click.Command:
        def command(
            config: str | None,
            alerts: tuple[str, ...],
            limit: int,
            since: str | None,
            state_db: str | None,
            as_json: bool,
        ) -> None:
            db, _ = _open(config, state_db)
            rows = query(db, alerts, limit, _when(since)) if db.schema_version() else []
            emit(rows, columns, as_json)

        command.__doc__ = f.__doc__
        decorated = json_option(state_db_option(command))
        for option in (
            click.option(
                "--since",
                metavar="WHEN",
                help=f"Only {what} after this: a duration ago (2h) or an ISO time.",
            ),
            click.option(
                "--limit",
                default=50,
                show_default=True,
                type=click.IntRange(1),
                help="At most this many rows.",
            ),
            click.option(
                "--alert",
                "alerts",
                multiple=True,
                metavar="NAME",
                help="Only this alert (repeatable).",
            ),
            click.argument("config", required=False, type=CONFIG_PATH),
        ):
            decorated = option(decorated)
        return click.command(f.__name__)(decorated)

    return build


@_listing("runs", listings.history_rows, HISTORY_COLUMNS)
def history() -> None:
    """Past runs, newest first."""


@_listing("attempts", listings.delivery_rows, DELIVERY_COLUMNS)
def deliveries() -> None:
    """Notification delivery attempts, newest first (secrets redacted)."""


def _duration(text: str) -> timedelta:
    """`--duration`: `2h`, `30m`, `1d`; a bare number means hours (original SQL Sentinel)."""
    try:
        d = parse_duration(f"{float(text)}h") if _is_number(text) else parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    if d.total_seconds() <= 0:
        raise UsageError("--duration must be more than zero")
    return d


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@click.command()
@config_argument
@click.option("--alert", "alert", required=True, metavar="NAME", help="The alert to silence.")
@click.option("--duration", required=True, help="How long: 2h, 30m, 1d (a bare number is hours).")
@click.option("--reason", default="", help="Why (shown in status).")
@click.option("--by", "by", default=None, help="Who (default: the current user).")
@state_db_option
def silence(
    config: str, alert: str, duration: str, reason: str, by: str | None, state_db: str | None
) -> None:
    """Withhold ALERT's notifications for a while; runs and history continue.

    If the alert is still firing when the silence ends, it notifies again.
    """
    db, loaded = _open(config, state_db)
    _known_alert(loaded, alert, config)
    db.ensure_schema()
    now = datetime.now(UTC)
    end = now + _duration(duration)
    who = by or _user()
    add_silence(db, alert, now, end, reason, who)
    click.echo(f"silenced {alert!r} until {end.isoformat(timespec='seconds')} by {who}")


@click.command()
@config_argument
@click.option("--alert", "alert", required=True, metavar="NAME", help="The alert to unsilence.")
@state_db_option
def unsilence(config: str, alert: str, state_db: str | None) -> None:
    """End ALERT's active silences now."""
    db, loaded = _open(config, state_db)
    _known_alert(loaded, alert, config)
    db.ensure_schema()
    n = end_silences(db, alert, datetime.now(UTC))
    click.echo(f"ended {n} silence(s) of {alert!r}" if n else f"{alert!r} was not silenced")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
