"""Record one run: the alert's state row, its outbox rows and its history row, in one transaction.

The engine decides; this module only reads and writes. `open_run` locks the alert's
state row (SQLite: the whole database, `BEGIN IMMEDIATE`; PostgreSQL: the row,
`SELECT … FOR UPDATE`) and hands back what a decision needs; `RunTransaction.write`
then stores what was decided, the history row written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from sqlsentinel.core.decide import Previous, State, Transition
from sqlsentinel.core.run import RunRecord
from sqlsentinel.jsonsafe import dumps
from sqlsentinel.state.db import StateDB, upsert
from sqlsentinel.state.outbox import claim_in
from sqlsentinel.state.schema import alert_state, deliveries, history, notifications
from sqlsentinel.state.silences import silenced_now


@dataclass(frozen=True)
class OutboxEntry:
    """A notification to deliver (one per target), written with the transition."""

    event_id: str
    channel: str
    target: str
    target_index: int
    reason: str
    payload: dict[str, Any]


class RunTransaction:
    """The open transaction of one run: what it found locked, and how to write the result."""

    def __init__(self, conn: Connection, alert: str, now: datetime) -> None:
        self._conn = conn
        self.alert = alert
        self.previous = _lock_previous(conn, alert, now)
        self.silenced = silenced_now(conn, alert, now) is not None

    def write(
        self,
        rec: RunRecord,
        t: Transition,
        entries: Sequence[OutboxEntry],
        retention: float | None,
    ) -> None:
        """Store the decision: state row, outbox rows and the run's one history row."""
        conn, now = self._conn, rec.finished_at
        _write_state(conn, rec, t, bool(entries), now)
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
        conn.execute(history.insert().values(**_history_row(rec, self.previous, t, entries)))
        if retention:
            _prune(conn, rec.alert, now - timedelta(seconds=retention))

    def claim_pending(self, now: datetime, lease: float) -> list[dict[str, Any]]:
        """Claim the alert's undelivered notifications (this run's included) for `lease` s."""
        return claim_in(self._conn, self.alert, now, lease)


@contextmanager
def open_run(db: StateDB, alert: str, now: datetime) -> Iterator[RunTransaction]:
    """A write transaction holding `alert`'s state row; commits when the block ends."""
    with db.write() as conn:
        yield RunTransaction(conn, alert, now)


def _history_row(
    rec: RunRecord, prev: Previous | None, t: Transition, entries: Sequence[OutboxEntry]
) -> dict[str, Any]:
    notified = [
        {"event_id": e.event_id, "channel": e.channel, "target": e.target, "reason": e.reason}
        for e in entries
    ]
    return {
        "run_id": rec.run_id,
        "alert": rec.alert,
        "triggered_by": rec.triggered_by,
        "scheduled_at": rec.scheduled_at,
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "duration_ms": round((rec.finished_at - rec.started_at).total_seconds() * 1000, 1),
        "outcome": rec.outcome,
        "state": t.state.value,
        "previous_state": prev.state.value if prev else None,
        "transition": t.reason.value,
        "actual_value": _json(rec.actual_value),
        "threshold": _json(rec.threshold),
        "context": _json(rec.context),
        "error": rec.error,
        "notified": dumps(notified) if notified else None,
    }


def _json(value: Any) -> str | None:
    return None if value is None else dumps(value)


def _lock_previous(conn: Connection, alert: str, now: datetime) -> Previous | None:
    """Read the state row under a row lock (inserting a placeholder so there is a row to lock)."""
    query = select(alert_state).where(alert_state.c.alert == alert)
    if conn.dialect.name == "postgresql":
        placeholder = {"state": "", "since": now, "reason": "", "suppressed": False}
        conn.execute(
            upsert(conn, alert_state, {"alert": alert, **placeholder, "updated_at": now}, None)
        )
        query = query.with_for_update()
    # SQLite: BEGIN IMMEDIATE already serialises writers
    return previous_of(conn.execute(query).mappings().first())


def previous_of(row: Any) -> Previous | None:
    """The `Previous` a state row describes (None for no row or a placeholder)."""
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
    conn.execute(upsert(conn, alert_state, {"alert": rec.alert, **values}, values))


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
