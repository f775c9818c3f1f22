"""Reads and writes of the state database, each in its own short transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, or_, select, update

from sqlsentinel.jsonsafe import dumps
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.schema import (
    alert_state,
    deliveries,
    history,
    notifications,
    silences,
)
from sqlsentinel.state.transitions import Previous, Rule, State, Transition, decide


@dataclass(frozen=True)
class RunRecord:
    """What one run of one alert found."""

    run_id: str
    alert: str
    triggered_by: str
    scheduled_at: datetime | None
    started_at: datetime
    finished_at: datetime
    outcome: str  # ok, alert, no_data, multiple_rows, missing_status, timeout, ...
    condition: str  # ok | alert | error | keep (after on_error / on_no_data)
    actual_value: Any = None
    threshold: Any = None
    context: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """A notification to deliver (one per target), written with the transition."""

    event_id: str
    channel: str
    target: str
    target_index: int
    reason: str
    payload: dict[str, Any]


EventFactory = Callable[[Previous | None, Transition], list[OutboxEntry]]


def record_run(
    db: StateDB,
    rec: RunRecord,
    rule: Rule,
    make_events: EventFactory,
    retention: float | None,
) -> tuple[Previous | None, Transition, list[OutboxEntry]]:
    """Lock the alert's state, decide, and write state, outbox and history in one transaction."""
    now = rec.finished_at
    with db.write() as conn:
        prev = _lock_previous(conn, rec.alert, now)
        silenced = _silenced(conn, rec.alert, now) is not None
        transition = decide(prev, rec.condition, rule, silenced, now)
        entries = make_events(prev, transition) if transition.notify else []
        _write_state(conn, rec, transition, bool(entries), now)
        for e in entries:
            conn.execute(
                notifications.insert().values(
                    event_id=e.event_id,
                    alert=rec.alert,
                    channel=e.channel,
                    target=e.target,
                    target_index=e.target_index,
                    reason=e.reason,
                    payload=dumps(e.payload),
                    status="pending",
                    attempts=0,
                    created_at=now,
                    run_id=rec.run_id,
                )
            )
        conn.execute(
            history.insert().values(
                run_id=rec.run_id,
                alert=rec.alert,
                triggered_by=rec.triggered_by,
                scheduled_at=rec.scheduled_at,
                started_at=rec.started_at,
                finished_at=now,
                duration_ms=round((now - rec.started_at).total_seconds() * 1000, 1),
                outcome=rec.outcome,
                state=transition.state.value,
                previous_state=prev.state.value if prev else None,
                transition=transition.reason.value,
                actual_value=_json(rec.actual_value),
                threshold=_json(rec.threshold),
                context=_json(rec.context),
                error=rec.error,
                notified=dumps(
                    [
                        {
                            "event_id": e.event_id,
                            "channel": e.channel,
                            "target": e.target,
                            "reason": e.reason,
                            "outcome": "pending",
                        }
                        for e in entries
                    ]
                )
                if entries
                else None,
            )
        )
        if retention:
            _prune(conn, rec.alert, now - timedelta(seconds=retention))
    return prev, transition, entries


def _json(value: Any) -> str | None:
    return None if value is None else dumps(value)


def _lock_previous(conn: Connection, alert: str, now: datetime) -> Previous | None:
    """Read the state row under a row lock (inserting a placeholder so there is a row to lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            _insert(conn)(alert_state)
            .values(alert=alert, state="", since=now, reason="", suppressed=False, updated_at=now)
            .on_conflict_do_nothing(index_elements=["alert"])
        )
        row = (
            conn.execute(select(alert_state).where(alert_state.c.alert == alert).with_for_update())
            .mappings()
            .first()
        )
    else:  # SQLite: BEGIN IMMEDIATE already serialises writers
        row = (
            conn.execute(select(alert_state).where(alert_state.c.alert == alert)).mappings().first()
        )
    return _previous(row)


def _previous(row: Any) -> Previous | None:
    if row is None or not row["state"]:
        return None
    return Previous(
        state=State(row["state"]),
        since=row["since"],
        condition_since=row["condition_since"],
        last_notified_at=row["last_notified_at"],
        last_notified_state=State(row["last_notified_state"])
        if row["last_notified_state"]
        else None,
        suppressed=bool(row["suppressed"]),
    )


def _write_state(
    conn: Connection, rec: RunRecord, t: Transition, notified: bool, now: datetime
) -> None:
    values: dict[str, Any] = {
        "state": t.state.value,
        "since": t.since,
        "reason": t.reason.value,
        "condition_since": t.condition_since,
        "last_run_at": now,
        "last_outcome": rec.outcome,
        "last_value": _json(rec.actual_value),
        "last_threshold": _json(rec.threshold),
        "last_error": rec.error,
        "suppressed": t.suppressed,
        "updated_at": now,
    }
    if notified:
        values.update(last_notified_at=now, last_notified_state=t.state.value)
    ins = _insert(conn)(alert_state)
    conn.execute(
        ins.values(alert=rec.alert, **values).on_conflict_do_update(
            index_elements=["alert"], set_=values
        )
    )


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT with ON CONFLICT (imported only for the backend in use)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def _prune(conn: Connection, alert: str, cutoff: datetime) -> None:
    conn.execute(delete(history).where(history.c.alert == alert, history.c.finished_at < cutoff))
    conn.execute(
        delete(deliveries).where(deliveries.c.alert == alert, deliveries.c.started_at < cutoff)
    )
    conn.execute(
        delete(notifications).where(
            notifications.c.alert == alert,
            notifications.c.status != "pending",
            notifications.c.created_at < cutoff,
        )
    )


def peek(db: StateDB, alert: str, now: datetime) -> tuple[Previous | None, bool]:
    """The alert's previous state and whether it is silenced, without locking or writing."""
    if db.sqlite_path is not None and not db.sqlite_path.exists():
        return None, False  # connecting would create the file
    if db.schema_version() == 0:
        return None, False
    with db.read() as conn:
        row = (
            conn.execute(select(alert_state).where(alert_state.c.alert == alert)).mappings().first()
        )
        return _previous(row), _silenced(conn, alert, now) is not None


# ---------------------------------------------------------------- outbox


def claim_pending(db: StateDB, alert: str, now: datetime, lease: float) -> list[dict[str, Any]]:
    """Claim this alert's undelivered notifications for `lease` seconds (oldest first)."""
    with db.write() as conn:
        free = or_(notifications.c.claimed_until.is_(None), notifications.c.claimed_until < now)
        query = (
            select(notifications)
            .where(notifications.c.alert == alert, notifications.c.status == "pending", free)
            .order_by(notifications.c.created_at, notifications.c.event_id)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [dict(r) for r in conn.execute(query).mappings()]
        if rows:
            conn.execute(
                update(notifications)
                .where(notifications.c.event_id.in_([r["event_id"] for r in rows]))
                .values(claimed_until=now + timedelta(seconds=lease))
            )
    return rows


def record_attempt(db: StateDB, attempt: dict[str, Any]) -> None:
    """Append one delivery attempt to the log."""
    with db.write() as conn:
        conn.execute(deliveries.insert().values(**attempt))


def finish_notification(
    db: StateDB, event_id: str, status: str, attempts: int, error: str | None, now: datetime
) -> None:
    """Record where a claimed notification stands after this run's attempts."""
    with db.write() as conn:
        conn.execute(
            update(notifications)
            .where(notifications.c.event_id == event_id)
            .values(
                status=status,
                attempts=attempts,
                last_error=error,
                claimed_until=None,
                finished_at=now if status != "pending" else None,
            )
        )
        run_id = conn.execute(
            select(notifications.c.run_id).where(notifications.c.event_id == event_id)
        ).scalar()
        row = conn.execute(
            select(history.c.id, history.c.notified).where(history.c.run_id == run_id)
        ).first()
        if row is not None and row.notified:
            items = json.loads(row.notified)
            for item in items:
                if item["event_id"] == event_id:
                    item["outcome"] = status
            conn.execute(
                update(history).where(history.c.id == row.id).values(notified=dumps(items))
            )


# ---------------------------------------------------------------- silences


def _silenced(conn: Connection, alert: str, now: datetime) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(silences)
            .where(
                silences.c.alert == alert,
                silences.c.ended_at.is_(None),
                silences.c.starts_at <= now,
                silences.c.ends_at > now,
            )
            .order_by(silences.c.ends_at.desc())
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def add_silence(
    db: StateDB, alert: str, start: datetime, end: datetime, reason: str, by: str
) -> int:
    """Silence `alert` from `start` to `end`; returns the silence id."""
    with db.write() as conn:
        result = conn.execute(
            silences.insert().values(
                alert=alert, starts_at=start, ends_at=end, reason=reason, created_by=by
            )
        )
        key = result.inserted_primary_key
        return int(key[0]) if key else 0


def end_silences(db: StateDB, alert: str, now: datetime) -> int:
    """End every active silence of `alert`; returns how many ended."""
    with db.write() as conn:
        result = conn.execute(
            update(silences)
            .where(
                silences.c.alert == alert, silences.c.ended_at.is_(None), silences.c.ends_at > now
            )
            .values(ended_at=now)
        )
        return int(result.rowcount or 0)


# ---------------------------------------------------------------- listings


def states(db: StateDB, now: datetime) -> list[dict[str, Any]]:
    """Every alert's state row."""
    with db.read() as conn:
        return [
            dict(r)
            for r in conn.execute(select(alert_state).order_by(alert_state.c.alert)).mappings()
        ]


def active_silences(db: StateDB, now: datetime) -> dict[str, dict[str, Any]]:
    """The active silence of each silenced alert (the one ending last)."""
    with db.read() as conn:
        rows = conn.execute(
            select(silences)
            .where(
                silences.c.ended_at.is_(None), silences.c.starts_at <= now, silences.c.ends_at > now
            )
            .order_by(silences.c.ends_at)
        ).mappings()
        return {r["alert"]: dict(r) for r in rows}


def history_rows(
    db: StateDB, alerts: Sequence[str] = (), limit: int = 50, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Newest runs first."""
    query = select(history).order_by(history.c.finished_at.desc(), history.c.id.desc()).limit(limit)
    conds: list[ColumnElement[bool]] = []
    if alerts:
        conds.append(history.c.alert.in_(list(alerts)))
    if since is not None:
        conds.append(history.c.finished_at >= since)
    if conds:
        query = query.where(and_(*conds))
    with db.read() as conn:
        return [_decode(dict(r)) for r in conn.execute(query).mappings()]


def delivery_rows(
    db: StateDB, alerts: Sequence[str] = (), limit: int = 50, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Newest delivery attempts first."""
    query = (
        select(deliveries)
        .order_by(deliveries.c.started_at.desc(), deliveries.c.id.desc())
        .limit(limit)
    )
    if alerts:
        query = query.where(deliveries.c.alert.in_(list(alerts)))
    if since is not None:
        query = query.where(deliveries.c.started_at >= since)
    with db.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def pending_count(db: StateDB) -> dict[str, int]:
    """Undelivered notifications per alert."""
    with db.read() as conn:
        rows = conn.execute(
            select(notifications.c.alert, func.count())
            .where(notifications.c.status == "pending")
            .group_by(notifications.c.alert)
        )
        return {a: int(n) for a, n in rows}


def run_counts(db: StateDB) -> list[dict[str, Any]]:
    """Runs per (alert, outcome) still in history, for metrics."""
    with db.read() as conn:
        rows = conn.execute(
            select(
                history.c.alert, history.c.outcome, func.count(), func.max(history.c.duration_ms)
            ).group_by(history.c.alert, history.c.outcome)
        )
        return [{"alert": a, "outcome": o, "count": int(n), "max_ms": m} for a, o, n, m in rows]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("actual_value", "threshold", "context", "notified"):
        if row.get(key) is not None:
            row[key] = json.loads(row[key])
    return row
