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
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.decide import Previous, State, Transition
from sqlsentinel.core.delivery import Claim, NotificationStatus
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.severity import stored_severity
from sqlsentinel.jsonsafe import dumps
from sqlsentinel.state import counters
from sqlsentinel.state.db import StateDB, Tx
from sqlsentinel.state.outbox import claim_in
from sqlsentinel.state.silences import silenced_now

if TYPE_CHECKING:
    from sqlsentinel.core.grouped import Notification

_HISTORY_COLUMNS = (
    "run_id", "alert", "triggered_by", "scheduled_at", "launched_at", "started_at",
    "finished_at", "duration_ms", "outcome", "state", "previous_state", "transition",
    "actual_value", "threshold", "context", "error", "notified", "spooled", "instances",
    "severity",
)  # fmt: skip
_OUTBOX_COLUMNS = (
    "event_id", "alert", "channel", "target", "target_index", "reason", "payload", "status",
    "attempts", "created_at", "run_id",
)  # fmt: skip


@dataclass(frozen=True)
class OutboxEntry:
    """A notification to deliver (one per target), written with the transition."""

    event_id: str
    channel: str
    target: str
    target_index: int
    reason: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, event: Notification, channel: str, target: str, index: int) -> OutboxEntry:
        """The row that carries `event` to the `index`-th target (`channel`, described)."""
        return cls(event.event_id, channel, target, index, event.reason.value, event.to_payload())


def _insert(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


class RunTransaction:
    """The open transaction of one run: what it found locked, and how to write the result."""

    def __init__(self, tx: Tx, alert: str, now: datetime) -> None:
        self.tx = tx  # the open transaction, for what else a run writes (state/instances.py)
        self.alert = alert
        row = lock_state_row(tx, alert, now)
        self.previous = previous_of(row)
        self.previous_outcome: str | None = row["last_outcome"] if row else None
        self.silenced = silenced_now(tx, alert, now) is not None

    def write(
        self,
        rec: RunRecord,
        t: Transition,
        entries: Sequence[OutboxEntry],
        retention: float | None,
        *,
        spooled: bool = False,
        told: bool | None = None,
        instances: dict[str, Any] | None = None,
    ) -> None:
        """Store the decision: state row, outbox rows and the run's one history row.

        `told`: the alert as a whole notified (default: when there are outbox rows);
        `instances`: a keyed run's summary for its history row.
        """
        tx, now = self.tx, rec.finished_at
        _write_state(tx, rec, t, bool(entries) if told is None else told)
        insert_notifications(tx, rec.alert, rec.run_id, entries, now)
        row = _history_row(rec, self.previous, t, entries, spooled)
        row["instances"] = _json(instances)
        tx.execute(_insert("history", _HISTORY_COLUMNS), [row[c] for c in _HISTORY_COLUMNS])
        counters.bump(tx, counters.RUNS, rec.alert, rec.outcome)
        if retention:
            _prune(tx, rec.alert, now - timedelta(seconds=retention))

    def claim_pending(self, now: datetime, lease: float, *, in_order: bool = False) -> list[Claim]:
        """Claim the alert's undelivered notifications (this run's included) for `lease` s
        (`in_order`: every one of each target, oldest first; see state/outbox.py)."""
        return claim_in(self.tx, self.alert, now, lease, in_order=in_order)


def insert_notifications(
    tx: Tx, alert: str, run_id: str, entries: Sequence[OutboxEntry], now: datetime
) -> None:
    """Queue `entries` (pending) in the outbox, as sent by `run_id` (a run, or a stale episode)."""
    for e in entries:
        values = (e.event_id, alert, e.channel, e.target, e.target_index, e.reason,
                  dumps(e.payload), NotificationStatus.PENDING, 0, now, run_id)  # fmt: skip
        tx.execute(_insert("notifications", _OUTBOX_COLUMNS), values)


@contextmanager
def open_run(
    db: StateDB, alert: str, now: datetime, deadline: float | None = None
) -> Iterator[RunTransaction]:
    """A write transaction holding `alert`'s state row; commits when the block ends."""
    with db.write(deadline) as tx:
        yield RunTransaction(tx, alert, now)


def recorded(db: StateDB, run_id: str) -> bool:
    """Whether a run is already in history (a spooled run recorded before a crash)."""
    with db.read() as tx:
        return bool(tx.scalar("SELECT count(*) FROM history WHERE run_id = ?", (run_id,)))


def _history_row(
    rec: RunRecord,
    prev: Previous | None,
    t: Transition,
    entries: Sequence[OutboxEntry],
    spooled: bool,
) -> dict[str, Any]:
    notified = [
        {"event_id": e.event_id, "channel": e.channel, "target": e.target, "reason": e.reason}
        for e in entries
    ]
    return {
        **{k: getattr(rec, k) for k in ("run_id", "alert", "triggered_by", "scheduled_at")},
        **{k: getattr(rec, k) for k in ("launched_at", "started_at", "finished_at", "outcome")},
        "duration_ms": round((rec.finished_at - rec.started_at).total_seconds() * 1000, 1),
        "state": t.state.value,
        "previous_state": prev.state.value if prev else None,
        "transition": t.reason.value,
        "severity": t.severity.value,
        "actual_value": _json(rec.actual_value),
        "threshold": _json(rec.threshold),
        "context": _json(rec.context),
        "error": rec.error,
        "notified": dumps(notified) if notified else None,
        "spooled": spooled,
    }


def _json(value: Any) -> str | None:
    return None if value is None else dumps(value)


def lock_state_row(tx: Tx, alert: str, now: datetime) -> dict[str, Any] | None:
    """Read the state row under a row lock (inserting a placeholder so there is a row to
    lock); None when the alert never ran (no row, or only the placeholder)."""
    query = "SELECT * FROM alert_state WHERE alert = ?"
    if tx.dialect == "postgresql":
        tx.execute(
            "INSERT INTO alert_state (alert, state, since, reason, suppressed, updated_at) "
            "VALUES (?, '', ?, '', FALSE, ?) ON CONFLICT (alert) DO NOTHING",
            (alert, now, now),
        )
        query += " FOR UPDATE"
    # SQLite: BEGIN IMMEDIATE already serialises writers
    row = tx.one(query, (alert,))
    return row if row and row["state"] else None


def previous_of(row: dict[str, Any] | None) -> Previous | None:
    """The `Previous` a state row describes (None for no row or a placeholder)."""
    if row is None or not row["state"]:
        return None
    last = row["last_notified_state"]
    return Previous(
        state=State(row["state"]),
        since=row["since"],
        condition_since=row["condition_since"],
        last_notified_at=row["last_notified_at"],
        last_notified_state=State(last) if last else None,
        suppressed=bool(row["suppressed"]),
        severity=stored_severity(row.get("severity")),
        notified_severity=stored_severity(row.get("last_notified_severity")),
    )


def _write_state(tx: Tx, rec: RunRecord, t: Transition, notified: bool) -> None:
    now = rec.finished_at
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
        "severity": t.severity.value,
        "updated_at": now,
    }
    if notified:
        values.update(last_notified_at=now, last_notified_state=t.state.value,
                      last_notified_severity=t.severity.value)  # fmt: skip
    columns = list(values)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
    tx.execute(
        _insert("alert_state", ["alert", *columns])
        + f" ON CONFLICT (alert) DO UPDATE SET {updates}",
        [rec.alert, *values.values()],
    )


def _prune(tx: Tx, alert: str, cutoff: datetime) -> None:
    tx.execute("DELETE FROM history WHERE alert = ? AND finished_at < ?", (alert, cutoff))
    tx.execute("DELETE FROM deliveries WHERE alert = ? AND started_at < ?", (alert, cutoff))
    tx.execute(
        "DELETE FROM notifications WHERE alert = ? AND status <> ? AND created_at < ?",
        (alert, NotificationStatus.PENDING, cutoff),
    )
