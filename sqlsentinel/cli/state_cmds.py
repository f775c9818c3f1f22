"""Commands over the state database: init, status, history, deliveries."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from sqlsentinel.cli.common import (
    CONFIG_PATH,
    database_url_option,
    emit,
    env_file_option,
    fallbacks,
    json_option,
    say,
    state_db_option,
)
from sqlsentinel.cli.table import Column, millis, printable, short_time, wide_option
from sqlsentinel.config.peek import ConfigPeek
from sqlsentinel.durations import parse_duration
from sqlsentinel.errors import UsageError
from sqlsentinel.state import listings
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.location import resolve_state_url
from sqlsentinel.state.silences import active_silences

if TYPE_CHECKING:
    from sqlsentinel.applied.current import Current


def tell(line: str) -> None:
    """A line about the state on stderr, shown and never obeyed by a terminal."""
    click.echo(printable(line), err=True)


def open_state(
    config: str | None, state_db: str | None, applied: Current | None = None
) -> tuple[StateDB, ConfigPeek | None]:
    """The state DB (from --state-db, the config, or the default) and what the config names.

    The config is only peeked at (from its timetable, when the file is what is applied):
    reading state needs neither valid alerts nor secrets.
    """
    peek = None
    if config is not None:
        from sqlsentinel.applied.current import current

        peek = (applied or current(config)).peek()
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


def known_alert(peek: ConfigPeek | None, name: str, config: str) -> None:
    if peek is not None and name not in peek.alert_names:
        from sqlsentinel.config.run_loader import unknown_alert

        raise UsageError(unknown_alert(name, peek.alert_names, config))


@click.command()
@click.argument("config", required=False, type=CONFIG_PATH)
@env_file_option
@state_db_option
def init(config: str | None, state_db: str | None) -> None:
    """Create the state database schema, or upgrade an older one. Safe to run twice."""
    db, _ = open_state(config, state_db)
    before, after = db.ensure_schema()
    if before == after:
        click.echo(f"state database is up to date (schema v{after})")
    elif before == 0:
        click.echo(f"created state database schema v{after}")
    else:
        click.echo(f"upgraded state database schema v{before} -> v{after}")


def _silence(row: Mapping[str, Any]) -> str | None:
    """`until 16:03:38 (maintenance, by ana)`: an alert's silence, as status shows it."""
    until = row.get("silenced_until")
    if until is None:
        return None
    by = row.get("silenced_by")
    why = ", ".join(filter(None, (row.get("silence_reason"), by and f"by {by}")))
    return f"until {short_time(until)} ({why})" if why else f"until {short_time(until)}"


def _notes(row: Mapping[str, Any]) -> str | None:
    """What is out of the ordinary, in one cell: `silenced until …; missed 09:00; 2 undelivered`."""
    notes = []
    if row.get("silenced_until") is not None:
        notes.append(f"silenced {_silence(row)}")
    if row.get("missed_run") is not None:
        notes.append(f"missed {short_time(row['missed_run'])}")
    if row.get("undelivered"):
        notes.append(f"{row['undelivered']} undelivered")
    return "; ".join(notes) or None


STATUS_COLUMNS = (
    Column("alert"), Column("state"), Column("severity", keep=9),
    Column("since", keep=6), Column("reason", keep=5),
    Column("last_value", "VALUE", keep=4), Column("instances", keep=8, optional=True),
    Column("next_run", keep=3, optional=True), Column("last_run", keep=2),
    Column("notes", show=_notes, optional=True, wide=False, weight=2),
    Column("silenced_until", "SILENCED", _silence, wide=True),
    Column("missed_run", wide=True), Column("undelivered", wide=True),
)  # fmt: skip


@click.command()
@click.argument("config", required=False, type=CONFIG_PATH)
@click.option(
    "--alert",
    "alert",
    metavar="NAME",
    help="Only this alert; for a per-row alert (key:), one line per instance.",
)
@env_file_option
@database_url_option
@state_db_option
@json_option
@wide_option
def status(
    config: str | None, alert: str | None, state_db: str | None, as_json: bool, wide: bool
) -> None:
    """Each alert's state, since when and why, its silence and its timer, in the
    config's order.

    The timer's next and last run come from systemd where install-units or the daemon
    installed it (a timer that is not running shows its state: inactive, failed), else
    the next run from the daemon while it runs; the last run is the last one recorded
    where no installed timer says. With CONFIG, also says (on stderr) which config is
    applied, whether the file differs and why, and how the daemon is, and shows the run an
    alert missed while it is stale. NOTES says what is out of the ordinary (silenced until
    when, why and by whom; the missed run; undelivered notifications), in columns of their
    own with --wide. A per-row alert (key:) shows how many of its instances fire (2/40
    firing).
    """
    applied = None
    if config is not None:
        from sqlsentinel.applied.current import current

        applied = current(config, fallbacks=fallbacks())
    db, loaded = open_state(config, state_db, applied)
    now = datetime.now(UTC)
    if alert is not None and loaded is not None:
        known_alert(loaded, alert, loaded.source)
    has_schema = db.schema_version() > 0
    if alert is not None and _keyed(db, loaded, alert) and has_schema:
        from sqlsentinel.cli.instance_views import INSTANCE_COLUMNS, instance_lines

        emit(instance_lines(db, alert, now), INSTANCE_COLUMNS, as_json, wide=wide)
        return
    rows = listings.states(db) if has_schema else []
    if loaded is not None and applied is not None:
        known = {r["alert"] for r in rows}
        rows += [
            {"alert": a, "state": "NEVER_RUN", "since": None, "reason": None}
            for a in loaded.alert_names
            if a not in known
        ]
        configured = set(loaded.alert_names)
        rows = [r for r in rows if r["alert"] in configured]
        _add_timers(rows, loaded)
        _add_daemon(rows, db, applied, now)
        _add_stale(rows, applied, now)
    rows = [r for r in rows if alert is None or r["alert"] == alert]
    _add_state_details(rows, db, loaded, now, has_schema)
    if loaded is not None:  # in the config's order
        order = {name: i for i, name in enumerate(loaded.alert_names)}
        rows.sort(key=lambda r: (order.get(r["alert"], len(order)), r["alert"]))
    emit(rows, STATUS_COLUMNS, as_json, wide=wide)


def _keyed(db: StateDB, loaded: ConfigPeek | None, alert: str) -> bool:
    """Whether `alert` is a per-row alert: the config says so, or it has instances."""
    from sqlsentinel.state.instances import instance_counts

    if loaded is not None:
        return alert in loaded.keys
    return alert in instance_counts(db)


def _add_state_details(
    rows: list[dict[str, Any]],
    db: StateDB,
    loaded: ConfigPeek | None,
    now: datetime,
    has_schema: bool,
) -> None:
    """Each alert's silence, undelivered notifications, values, and instance counts."""
    from sqlsentinel.cli.instance_views import firing_of_total
    from sqlsentinel.state.instances import instance_counts

    pending = listings.pending_count(db) if has_schema else {}
    silenced = active_silences(db, now) if has_schema else {}
    counts = instance_counts(db) if has_schema else {}
    keyed = set(loaded.keys) if loaded is not None else set(counts)
    for r in rows:
        s = silenced.get(r["alert"])
        r["silenced_until"] = s["ends_at"] if s else None
        r["silence_reason"] = s["reason"] if s else None
        r["silenced_by"] = s["created_by"] if s else None
        r["undelivered"] = pending.get(r["alert"], 0)
        r["last_value"] = _decode_json(r.get("last_value"))
        if r.get("last_run") is None:  # no installed timer to ask: the last run recorded
            r["last_run"] = r.get("last_run_at")
        r["last_threshold"] = _decode_json(r.get("last_threshold"))
        if r["alert"] in keyed:
            r["instances"] = firing_of_total(counts.get(r["alert"], {}))
            r["instance_counts"] = counts.get(r["alert"], {})


def _add_stale(rows: list[dict[str, Any]], applied: Current, now: datetime) -> None:
    """`stale` and `missed_run` of each alert that runs (stale None: not checked, or
    disabled), from what is applied and the last runs the rows hold."""
    from sqlsentinel.applied.staleness import timetable_staleness
    from sqlsentinel.errors import ConfigError

    try:
        table = applied.running(lambda message: say("warning", message))
        runs = {r["alert"]: r.get("last_run_at") for r in rows}
        found = {s.alert: s for s in timetable_staleness(table, runs, now)}
    except ConfigError as exc:
        tell(f"missed runs: not checked: {str(exc).splitlines()[0]}")
        found = {}
    for r in rows:
        s = found.get(r["alert"])
        r["stale"] = s.stale if s else None
        r["missed_run"] = s.missed_tick if s else None


def _decode_json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _add_daemon(rows: list[dict[str, Any]], db: StateDB, applied: Current, now: datetime) -> None:
    """Say which config is applied and how its daemon is; take next runs from a live one."""
    from sqlsentinel.state.daemon_state import read_daemon_status

    config, meta, on_disk = applied.config, applied.meta, applied.on_disk
    if meta is None or meta.applied_at is None:
        line = "not applied yet (install-units or the daemon applies it)"
        if meta is not None:
            line += f"; {meta.describe(on_disk)}"
    else:
        when = meta.applied_at.strftime("%Y-%m-%d %H:%M UTC")
        line = f"applied {when} (sha256 {meta.sha256}); {meta.describe(on_disk)}"
    tell(f"config {config}: {line}")
    for d in read_daemon_status(db, os.path.abspath(config)):
        ago = int((now - d.beat.beat_at).total_seconds())
        how = "stopped" if d.beat.stopped_at else "STALE" if d.stale(now) else "running"
        where = f"{d.beat.backend} backend, pid {d.beat.pid} on {d.beat.host}"
        tell(f"daemon: {how} ({where}, heartbeat {ago}s ago): {d.beat.status}")
        if d.running(now):
            for r in rows:
                if not isinstance(r.get("next_run"), str):  # a timer's state: the manager's
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
        r["next_run"] = t.get("next") if t.get("state", "active") == "active" else t["state"]
        r["last_run"] = t.get("last")


def _instances(row: Mapping[str, Any]) -> str | None:
    from sqlsentinel.cli.instance_views import instances_text

    return instances_text(row.get("instances"))


HISTORY_COLUMNS = (
    Column("finished_at", "FINISHED"), Column("alert"), Column("triggered_by", "BY", keep=1),
    Column("outcome", keep=6), Column("state"), Column("transition", keep=5),
    Column("actual_value", "VALUE", keep=4), Column("duration_ms", "TOOK", millis("duration_ms"),
    keep=2, fixed=True),
    Column("lateness_ms", "LATE", millis("lateness_ms"), keep=3, optional=True, fixed=True),
    Column("instances", show=_instances, keep=7, optional=True),
    Column("error", optional=True, weight=2),
)  # fmt: skip
DELIVERY_COLUMNS = (
    Column("started_at", "STARTED"), Column("alert"), Column("channel", keep=1),
    Column("target", keep=5, weight=2), Column("attempt", "TRY", keep=3), Column("outcome"),
    Column("status_code", "CODE", keep=4, optional=True),
    Column("error_class", "ERROR", keep=6, optional=True),
    Column("latency_ms", "LATENCY", millis("latency_ms"), keep=2, fixed=True),
    Column("event_id", keep=0),
)  # fmt: skip


def _listing(
    what: str, query: Callable[..., list[dict[str, Any]]], columns: tuple[Column, ...]
) -> Callable[[Callable[..., None]], click.Command]:
    """A listing command over the state database: --alert, --limit, --since, --json, --wide."""

    def build(f: Callable[..., None]) -> click.Command:
        def command(
            config: str | None,
            alerts: tuple[str, ...],
            limit: int,
            since: str | None,
            state_db: str | None,
            as_json: bool,
            wide: bool,
        ) -> None:
            db, _ = open_state(config, state_db)
            rows = query(db, alerts, limit, _when(since)) if db.schema_version() else []
            emit(rows, columns, as_json, wide=wide)

        command.__doc__ = f.__doc__
        decorated = wide_option(json_option(state_db_option(env_file_option(command))))
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
    """Past runs, newest first; for a per-row alert (key:), its instances per state and
    which changed."""


@_listing("attempts", listings.delivery_rows, DELIVERY_COLUMNS)
def deliveries() -> None:
    """Notification delivery attempts, newest first (secrets redacted)."""
