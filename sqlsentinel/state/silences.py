"""Silences: add, end, and find the ones active at an instant.

A silence holds the whole alert (`instance_key` NULL) or one instance of a keyed alert
(its canonical key, core/instances.py); a silence of the whole alert holds every instance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlsentinel.state.db import StateDB, Tx
from sqlsentinel.state.schema import INSTANCE_TABLES_SINCE

_ACTIVE = "ended_at IS NULL AND starts_at <= ? AND ends_at > ?"
_WHOLE = " AND instance_key IS NULL"  # from INSTANCE_TABLES_SINCE on; before, every silence


def silenced_now(
    tx: Tx, alert: str, now: datetime, *, instances: bool = True
) -> dict[str, Any] | None:
    """The active silence of the whole of `alert` that ends last, if any (`instances`: the
    schema knows silences of one instance)."""
    whole = _WHOLE if instances else ""
    return tx.one(
        f"SELECT * FROM silences WHERE alert = ? AND {_ACTIVE}{whole} ORDER BY ends_at DESC",
        (alert, now, now),
    )


def instance_silences(tx: Tx, alert: str, now: datetime) -> dict[str, dict[str, Any]]:
    """The active silence of each silenced instance of `alert` (the one ending last)."""
    rows = tx.all(
        f"SELECT * FROM silences WHERE alert = ? AND {_ACTIVE} AND instance_key IS NOT NULL "
        "ORDER BY ends_at",
        (alert, now, now),
    )
    return {r["instance_key"]: r for r in rows}


def active_silences(db: StateDB, now: datetime) -> dict[str, dict[str, Any]]:
    """The active silence of each silenced alert as a whole (the one ending last)."""
    whole = _WHOLE if db.schema_version() >= INSTANCE_TABLES_SINCE else ""
    with db.read() as tx:
        rows = tx.all(f"SELECT * FROM silences WHERE {_ACTIVE}{whole} ORDER BY ends_at", (now, now))
    return {r["alert"]: r for r in rows}


def add_silence(
    db: StateDB,
    alert: str,
    start: datetime,
    end: datetime,
    reason: str,
    by: str,
    instance_key: str | None = None,
) -> int:
    """Silence `alert` (or one instance of it) from `start` to `end`; returns the silence id."""
    columns = ["alert", "starts_at", "ends_at", "reason", "created_by"]
    values: list[object] = [alert, start, end, reason, by]
    if instance_key is not None:  # older schemas have no such column: leave it out otherwise
        columns.append("instance_key")
        values.append(instance_key)
    marks = ", ".join("?" for _ in columns)
    with db.write() as tx:
        tx.execute(f"INSERT INTO silences ({', '.join(columns)}) VALUES ({marks})", values)
        return int(tx.scalar("SELECT max(id) FROM silences WHERE alert = ?", (alert,)))


def end_silences(db: StateDB, alert: str, now: datetime, instance_key: str | None = None) -> int:
    """End the active silences of `alert` (all of them, or only those of one instance);
    returns how many ended."""
    only = " AND instance_key = ?" if instance_key is not None else ""
    key = (instance_key,) if instance_key is not None else ()
    with db.write() as tx:
        return tx.execute(
            "UPDATE silences SET ended_at = ? WHERE alert = ? AND ended_at IS NULL "
            f"AND ends_at > ?{only}",
            (now, alert, now, *key),
        )
