"""Silences: add, end, and find the ones active at an instant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlsentinel.state.db import StateDB, Tx

_ACTIVE = "ended_at IS NULL AND starts_at <= ? AND ends_at > ?"


def silenced_now(tx: Tx, alert: str, now: datetime) -> dict[str, Any] | None:
    """The active silence of `alert` that ends last, if any."""
    return tx.one(
        f"SELECT * FROM silences WHERE alert = ? AND {_ACTIVE} ORDER BY ends_at DESC",
        (alert, now, now),
    )


def active_silences(db: StateDB, now: datetime) -> dict[str, dict[str, Any]]:
    """The active silence of each silenced alert (the one ending last)."""
    with db.read() as tx:
        rows = tx.all(f"SELECT * FROM silences WHERE {_ACTIVE} ORDER BY ends_at", (now, now))
    return {r["alert"]: r for r in rows}


def add_silence(
    db: StateDB, alert: str, start: datetime, end: datetime, reason: str, by: str
) -> int:
    """Silence `alert` from `start` to `end`; returns the silence id."""
    with db.write() as tx:
        tx.execute(
            "INSERT INTO silences (alert, starts_at, ends_at, reason, created_by) "
            "VALUES (?, ?, ?, ?, ?)",
            (alert, start, end, reason, by),
        )
        return int(tx.scalar("SELECT max(id) FROM silences WHERE alert = ?", (alert,)))


def end_silences(db: StateDB, alert: str, now: datetime) -> int:
    """End every active silence of `alert`; returns how many ended."""
    with db.write() as tx:
        return tx.execute(
            "UPDATE silences SET ended_at = ? WHERE alert = ? AND ended_at IS NULL AND ends_at > ?",
            (now, alert, now),
        )
