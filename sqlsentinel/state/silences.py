"""Silences: add, end, and find the ones active at an instant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from sqlsentinel.state.db import StateDB
from sqlsentinel.state.schema import silences


def _active(now: datetime) -> Any:
    return (
        silences.c.ended_at.is_(None),
        silences.c.starts_at <= now,
        silences.c.ends_at > now,
    )


def silenced_now(conn: Connection, alert: str, now: datetime) -> dict[str, Any] | None:
    """The active silence of `alert` that ends last, if any."""
    row = (
        conn.execute(
            select(silences)
            .where(silences.c.alert == alert, *_active(now))
            .order_by(silences.c.ends_at.desc())
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def active_silences(db: StateDB, now: datetime) -> dict[str, dict[str, Any]]:
    """The active silence of each silenced alert (the one ending last)."""
    with db.read() as conn:
        rows = conn.execute(
            select(silences).where(*_active(now)).order_by(silences.c.ends_at)
        ).mappings()
        return {r["alert"]: dict(r) for r in rows}


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
