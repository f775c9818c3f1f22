"""The notification outbox: claim pending rows, log attempts, record where each row stands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update

from sqlsentinel.state.db import StateDB
from sqlsentinel.state.schema import deliveries, notifications


def claim_pending(db: StateDB, alert: str, now: datetime, lease: float) -> list[dict[str, Any]]:
    """Claim this alert's undelivered notifications for `lease` seconds (oldest first)."""
    with db.write() as conn:
        return claim_in(conn, alert, now, lease)


def claim_in(conn: Connection, alert: str, now: datetime, lease: float) -> list[dict[str, Any]]:
    """`claim_pending` inside an open write transaction."""
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
