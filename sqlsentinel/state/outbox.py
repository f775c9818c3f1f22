"""The notification outbox: claims, the delivery log, and where each notification stands.

Per target, notifications go out in order and only the newest matters: a claim takes
the newest pending notification of each target and marks the older ones `superseded`
(the newest carries the alert's current state and the episode's dedup key), unless one
of them is in flight elsewhere, in which case the target waits. A claim is held by this
process: on PostgreSQL through a session advisory lock (released the moment the process
or its connection is gone), on SQLite by `claimed_by` (this host's pid and start time,
taken over at once when that process no longer runs) and `claimed_until` (a lease, for
holders on other hosts). Each attempt is logged before it is made.

A keyed alert's grouped messages (core/grouped.py) each carry different instances'
transitions, so none may stand for another: they are claimed `in_order`, every free one
of a target at once, oldest first, and never superseded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlsentinel.core.delivery import Attempt, Claim, DeliveryOutcome, NotificationStatus
from sqlsentinel.procinfo import holder_gone, holder_id
from sqlsentinel.state import counters
from sqlsentinel.state.db import StateDB, Tx

PENDING, SUPERSEDED = NotificationStatus.PENDING, NotificationStatus.SUPERSEDED
_LOCK_NAMESPACE = 0x53 << 56  # advisory lock keys of outbox rows: 0x53 then 56 bits of event id


def _lock_key(event_id: str) -> int:
    return _LOCK_NAMESPACE | int(event_id[:14], 16)


def claim_in(
    tx: Tx,
    alert: str,
    now: datetime,
    lease: float,
    *,
    holder: str | None = None,
    in_order: bool = False,
    skip: frozenset[str] = frozenset(),
) -> list[Claim]:
    """Claim the newest free pending notification of each of `alert`'s targets (`in_order`:
    all of them, oldest first, superseding none).

    `holder` names the claiming process (default: this one); a target whose queue holds one
    of `skip` (what the claiming run attempted already) is left alone.
    """
    holder = holder or holder_id()
    rows = tx.all(
        "SELECT * FROM notifications WHERE alert = ? AND status = ? ORDER BY created_at, event_id",
        (alert, PENDING),
    )
    queues: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        queues.setdefault((row["channel"], row["target_index"], row["target"]), []).append(row)
    claimed = []
    for queue in queues.values():
        if skip.intersection(r["event_id"] for r in queue):
            continue
        if not _take(tx, queue, now, holder, every=in_order):
            continue  # an earlier notification to this target is being delivered elsewhere
        taken = queue if in_order else queue[-1:]
        for row in [] if in_order else queue[:-1]:
            _supersede(tx, row, queue[-1], now)
        for row in taken:
            tx.execute(
                "UPDATE notifications SET claimed_until = ?, claimed_by = ? WHERE event_id = ?",
                (now + timedelta(seconds=lease), holder, row["event_id"]),
            )
        claimed += taken
    return [Claim.from_row(row) for row in claimed]


def _take(tx: Tx, queue: list[dict[str, Any]], now: datetime, holder: str, *, every: bool) -> bool:
    """Whether no row of `queue` is in flight elsewhere; on PostgreSQL, lock its newest row
    (`every`: all its rows)."""
    if tx.dialect != "postgresql":
        return not any(_held_elsewhere(r, now, holder) for r in queue)
    locked = []
    for row in queue:
        if not tx.scalar("SELECT pg_try_advisory_lock(?)", (_lock_key(row["event_id"]),)):
            break
        locked.append(row)
    whole = len(locked) == len(queue) and all(_still_pending(tx, r) for r in locked)
    keep = (locked if every else locked[-1:]) if whole else []
    for row in locked:
        if row not in keep:
            tx.execute("SELECT pg_advisory_unlock(?)", (_lock_key(row["event_id"]),))
    return bool(keep)


def _still_pending(tx: Tx, row: dict[str, Any]) -> bool:
    """Whether `row` is still pending now that it is locked (its last holder may have
    finished it between this transaction's read and the lock)."""
    status = tx.scalar("SELECT status FROM notifications WHERE event_id = ?", (row["event_id"],))
    return bool(status == PENDING)


def _held_elsewhere(row: dict[str, Any], now: datetime, me: str) -> bool:
    holder, until = row.get("claimed_by"), row.get("claimed_until")
    if until is None or until <= now or holder == me:
        return False
    return not (holder and holder_gone(holder))


def _supersede(tx: Tx, row: dict[str, Any], newest: dict[str, Any], now: datetime) -> None:
    why = f"superseded by {newest['reason']} {newest['event_id']}"
    tx.execute(
        "UPDATE notifications SET status = ?, finished_at = ?, last_error = ?, "
        "claimed_until = NULL, claimed_by = NULL WHERE event_id = ?",
        (SUPERSEDED, now, why, row["event_id"]),
    )
    counters.bump(tx, counters.NOTIFICATIONS, row["alert"], SUPERSEDED, row["channel"])


def begin_attempt(db: StateDB, a: Attempt) -> None:
    """Log an attempt as `sending` (and count it) before it is made."""
    with db.write() as tx:
        tx.execute(
            "UPDATE notifications SET attempts = attempts + 1 WHERE event_id = ?", (a.event_id,)
        )
        tx.execute(
            "INSERT INTO deliveries (event_id, alert, channel, target, attempt, outcome, "
            "latency_ms, started_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
            (a.event_id, a.alert, a.channel, a.target, a.attempt, a.outcome, a.started_at),
        )


def end_attempt(db: StateDB, a: Attempt) -> None:
    """Record how a logged attempt ended (and count it, once)."""
    with db.write() as tx:
        ended = tx.execute(
            "UPDATE deliveries SET outcome = ?, status_code = ?, error_class = ?, detail = ?, "
            "latency_ms = ?, retry_after = ?, reference = ?, excerpt = ? "
            "WHERE event_id = ? AND attempt = ? AND outcome = ?",
            (a.outcome, a.status_code, a.error_class, a.detail, a.latency_ms, a.retry_after,
             a.reference, a.excerpt or None, a.event_id, a.attempt, DeliveryOutcome.SENDING),
        )  # fmt: skip
        if ended:
            counters.bump(tx, counters.ATTEMPTS, a.alert, a.outcome, a.channel)


def finish_notification(
    db: StateDB, event_id: str, status: NotificationStatus, error: str | None, now: datetime
) -> None:
    """Record where a claimed notification stands after this run's attempts; release it.

    On PostgreSQL the claim (a session lock, which no transaction holds back) is released
    only once the new status is committed: a run that looked in between would otherwise
    see a pending notification that nobody holds, and call it undelivered.
    """
    with db.write() as tx:
        was = tx.one(
            "SELECT alert, channel, status FROM notifications WHERE event_id = ?", (event_id,)
        )
        tx.execute(
            "UPDATE notifications SET status = ?, last_error = ?, claimed_until = NULL, "
            "claimed_by = NULL, finished_at = ? WHERE event_id = ?",
            (status, error, now if status != PENDING else None, event_id),
        )
        if was is not None and was["status"] == PENDING and status != PENDING:
            counters.bump(tx, counters.NOTIFICATIONS, was["alert"], status, was["channel"])
    if db.dialect == "postgresql":
        with db.read() as tx:
            tx.execute("SELECT pg_advisory_unlock(?)", (_lock_key(event_id),))


def free_pending(db: StateDB, alert: str, now: datetime) -> list[str]:
    """The pending notifications of `alert` that no live run holds or will send: neither it
    nor an earlier one to its target is held by a live run (that run takes the rest of its
    target's queue next). What a run's exit 5 stands for, besides its own failed attempts.

    Whether a row is held and whether it is still pending are read together, so one that
    another run finishes meanwhile is never counted: on SQLite both are columns of one
    snapshot; on PostgreSQL the hold is a session lock, so this takes it (never waiting),
    reads the status while holding it, and lets it go.
    """
    with db.read() as tx:
        rows = tx.all(
            "SELECT event_id, channel, target_index, target, claimed_by, claimed_until "
            "FROM notifications WHERE alert = ? AND status = ? "
            "ORDER BY created_at, event_id",
            (alert, PENDING),
        )
        queues: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
        for row in rows:
            queues.setdefault((row["channel"], row["target_index"], row["target"]), []).append(row)
        if tx.dialect == "postgresql":
            return [e for q in queues.values() for e in _free_queue_pg(tx, q)]
    me = holder_id()
    held = [q for q in queues.values() if any(_held_elsewhere(r, now, me) for r in q)]
    return [r["event_id"] for q in queues.values() if q not in held for r in q]


def _free_queue_pg(tx: Tx, queue: list[dict[str, Any]]) -> list[str]:
    """The rows of one target's queue still pending, or none when a live run holds one."""
    keys = []
    try:
        for row in queue:
            if not tx.scalar("SELECT pg_try_advisory_lock(?)", (_lock_key(row["event_id"]),)):
                return []  # another run is delivering to this target
            keys.append(_lock_key(row["event_id"]))
        return [r["event_id"] for r in queue if _still_pending(tx, r)]
    finally:
        for key in keys:
            tx.execute("SELECT pg_advisory_unlock(?)", (key,))


def recent_sends(tx: Tx, alert: str, since: datetime) -> list[dict[str, Any]]:
    """`alert`'s notifications delivered since `since`, and those still being delivered:
    their target's position, status, creation and delivery times, and payload (JSON)."""
    return tx.all(
        "SELECT target_index, status, created_at, finished_at, payload FROM notifications "
        "WHERE alert = ? AND ((status = ? AND finished_at >= ?) OR status = ?)",
        (alert, NotificationStatus.DELIVERED, since, PENDING),
    )
