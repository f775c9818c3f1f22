"""What the reading commands show: states, history, deliveries, counts. Never writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from sqlsentinel.core.decide import Previous
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.record import previous_of
from sqlsentinel.state.schema import alert_state, deliveries, history, notifications
from sqlsentinel.state.silences import silenced_now


def peek(db: StateDB, alert: str, now: datetime) -> tuple[Previous | None, bool]:
    """The alert's previous state and whether it is silenced, without locking or writing."""
    if db.schema_version() == 0:  # also true for a SQLite file that does not exist yet
        return None, False
    with db.read() as conn:
        row = (
            conn.execute(select(alert_state).where(alert_state.c.alert == alert)).mappings().first()
        )
        return previous_of(row), silenced_now(conn, alert, now) is not None


def states(db: StateDB) -> list[dict[str, Any]]:
    """Every alert's state row."""
    with db.read() as conn:
        return [
            dict(r)
            for r in conn.execute(select(alert_state).order_by(alert_state.c.alert)).mappings()
        ]


def history_rows(
    db: StateDB, alerts: Sequence[str] = (), limit: int = 50, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Newest runs first; each notification listed with where it stands now."""
    query = select(history).order_by(history.c.finished_at.desc(), history.c.id.desc()).limit(limit)
    conds: list[ColumnElement[bool]] = []
    if alerts:
        conds.append(history.c.alert.in_(list(alerts)))
    if since is not None:
        conds.append(history.c.finished_at >= since)
    if conds:
        query = query.where(and_(*conds))
    with db.read() as conn:
        rows = [_decode(dict(r)) for r in conn.execute(query).mappings()]
        ids = [n["event_id"] for r in rows for n in r.get("notified") or ()]
        status = dict(
            conn.execute(
                select(notifications.c.event_id, notifications.c.status).where(
                    notifications.c.event_id.in_(ids)
                )
            ).all()
        )
    for r in rows:
        r["lateness_ms"] = _lateness_ms(r)
        for n in r.get("notified") or ():
            n["outcome"] = status.get(n["event_id"], "pruned")
    return rows


def _lateness_ms(row: dict[str, Any]) -> float | None:
    """How long after its timer elapsed a run started (None for manual runs)."""
    if row.get("scheduled_at") is None:
        return None
    late: timedelta = row["started_at"] - row["scheduled_at"]
    return round(late.total_seconds() * 1000, 1)


def last_lateness(db: StateDB) -> dict[str, float]:
    """Seconds between each alert's last timer elapse and the start of the run it started."""
    latest = (
        select(func.max(history.c.id))
        .where(history.c.scheduled_at.is_not(None))
        .group_by(history.c.alert)
    )
    query = select(history.c.alert, history.c.started_at, history.c.scheduled_at).where(
        history.c.id.in_(latest)
    )
    with db.read() as conn:
        return {
            alert: (started - scheduled).total_seconds()
            for alert, started, scheduled in conn.execute(query)
        }


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
            select(history.c.alert, history.c.outcome, func.count()).group_by(
                history.c.alert, history.c.outcome
            )
        )
        return [{"alert": a, "outcome": o, "count": int(n)} for a, o, n in rows]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("actual_value", "threshold", "context", "notified"):
        if row.get(key) is not None:
            row[key] = json.loads(row[key])
    return row
