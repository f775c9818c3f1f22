"""What the reading commands show: states, history, deliveries, counts. Never writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlsentinel.core.decide import Previous
from sqlsentinel.core.delivery import NotificationStatus
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.record import previous_of
from sqlsentinel.state.schema import INSTANCE_TABLES_SINCE
from sqlsentinel.state.silences import silenced_now


def peek(db: StateDB, alert: str, now: datetime) -> tuple[Previous | None, bool]:
    """The alert's previous state and whether it is silenced, without locking or writing."""
    version = db.schema_version()
    if version == 0:  # also true for a SQLite file that does not exist yet
        return None, False
    with db.read() as tx:
        row = tx.one("SELECT * FROM alert_state WHERE alert = ?", (alert,))
        silence = silenced_now(tx, alert, now, instances=version >= INSTANCE_TABLES_SINCE)
        return previous_of(row), silence is not None


def states(db: StateDB) -> list[dict[str, Any]]:
    """Every alert's state row."""
    with db.read() as tx:
        return tx.all("SELECT * FROM alert_state WHERE state <> '' ORDER BY alert")


def _filtered(
    table: str, order: str, time_column: str, alerts: Sequence[str], since: datetime | None
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = list(alerts)
    if alerts:
        where.append(f"alert IN ({', '.join('?' for _ in alerts)})")
    if since is not None:
        where.append(f"{time_column} >= ?")
        params.append(since)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT * FROM {table}{clause} ORDER BY {order} LIMIT ?", params


def history_rows(
    db: StateDB, alerts: Sequence[str] = (), limit: int = 50, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Newest runs first; each notification listed with where it stands now."""
    sql, params = _filtered("history", "finished_at DESC, id DESC", "finished_at", alerts, since)
    with db.read() as tx:
        rows = [_decode(r) for r in tx.all(sql, [*params, limit])]
        ids = [n["event_id"] for r in rows for n in r.get("notified") or ()]
        status: dict[str, str] = {}
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            marks = ", ".join("?" for _ in chunk)
            found = tx.all(
                f"SELECT event_id, status FROM notifications WHERE event_id IN ({marks})", chunk
            )
            status.update((r["event_id"], r["status"]) for r in found)
    for r in rows:
        r["lateness_ms"] = _lateness_ms(r)
        for n in r.get("notified") or ():
            n["outcome"] = status.get(n["event_id"], "pruned")
    return rows


def _lateness_ms(row: dict[str, Any]) -> float | None:
    """How long after its timer elapsed a run's process started (None for manual runs)."""
    if row.get("scheduled_at") is None:
        return None
    late: timedelta = (row.get("launched_at") or row["started_at"]) - row["scheduled_at"]
    return round(max(0.0, late.total_seconds()) * 1000, 1)  # the launch is known to 10 ms


def last_lateness(db: StateDB) -> dict[str, float]:
    """Seconds between each alert's last timer elapse and the launch of the run it started."""
    with db.read() as tx:
        rows = tx.all(
            "SELECT alert, launched_at, started_at, scheduled_at FROM history WHERE id IN "
            "(SELECT max(id) FROM history WHERE scheduled_at IS NOT NULL GROUP BY alert)"
        )
    # 0.1 ms as seconds: rounded again, or 293.7 ms / 1000 shows as 0.29369999999999996
    return {r["alert"]: round((_lateness_ms(r) or 0.0) / 1000, 4) for r in rows}


def delivery_rows(
    db: StateDB, alerts: Sequence[str] = (), limit: int = 50, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Newest delivery attempts first."""
    sql, params = _filtered("deliveries", "started_at DESC, id DESC", "started_at", alerts, since)
    with db.read() as tx:
        return tx.all(sql, [*params, limit])


def pending_count(db: StateDB) -> dict[str, int]:
    """Undelivered notifications per alert."""
    with db.read() as tx:
        rows = tx.all(
            "SELECT alert, count(*) AS n FROM notifications WHERE status = ? GROUP BY alert",
            (NotificationStatus.PENDING,),
        )
    return {r["alert"]: int(r["n"]) for r in rows}


def run_counts(db: StateDB) -> list[dict[str, Any]]:
    """Runs per (alert, outcome) still in history, and how many were recorded late."""
    with db.read() as tx:
        rows = tx.all(
            "SELECT alert, outcome, count(*) AS n, "
            "sum(CASE WHEN spooled THEN 1 ELSE 0 END) AS late FROM history GROUP BY alert, outcome"
        )
    return [
        {"alert": r["alert"], "outcome": r["outcome"], "count": int(r["n"]), "late": int(r["late"])}
        for r in rows
    ]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("actual_value", "threshold", "context", "notified", "instances"):
        if row.get(key) is not None:
            row[key] = json.loads(row[key])
    return row


def last_runs(db: StateDB) -> dict[str, datetime | None]:
    """Each alert's last recorded run (none before the schema exists)."""
    if db.schema_version() == 0:
        return {}
    return {r["alert"]: r["last_run_at"] for r in states(db)}
