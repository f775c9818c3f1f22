"""Outbox dispatch: deliver the notifications a run claimed, after its transaction committed.

Targets are served in parallel, so a slow or failing one never delays the others. The
claim already gave each target at most one notification (its newest: see state/outbox.py),
so a receiver never sees them out of order. Every attempt is on record before it is made.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlsentinel.core.event import AlertEvent
from sqlsentinel.core.spec import AlertSpec, Settings, TargetSpec
from sqlsentinel.notify.deliver import Attempt, deliver, describe_target
from sqlsentinel.state import outbox
from sqlsentinel.state.db import StateDB

Queue = list[tuple[dict[str, Any], TargetSpec]]  # (outbox row, the target it goes to)


def deliver_claimed(
    alert: AlertSpec,
    settings: Settings,
    db: StateDB,
    rows: list[dict[str, Any]],
    deadline: float,
) -> list[dict[str, Any]]:
    """Deliver outbox rows this run has claimed, within `deadline` (monotonic)."""
    work: Queue = []
    results: dict[str, dict[str, Any]] = {}
    for row in rows:
        index = _find_target(alert, row)
        if index is None:  # the target left the config since the event was queued
            reason = "target no longer in the config"
            outbox.finish_notification(db, row["event_id"], "abandoned", reason, datetime.now(UTC))
            continue
        work.append((row, alert.notify[index]))

    def serve(item: tuple[dict[str, Any], TargetSpec]) -> None:
        row, target = item
        results[row["event_id"]] = _deliver_one(row, target, settings, db, deadline)

    if len(work) <= 1:
        for item in work:
            serve(item)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(work)) as pool:
            list(pool.map(serve, work))
    return [results[r["event_id"]] for r in rows if r["event_id"] in results]


def _find_target(alert: AlertSpec, row: dict[str, Any]) -> int | None:
    """The position of the configured target an outbox row was queued for, if still configured.

    Its position decides when it still matches (descriptions hide secrets, so two targets
    may share one); otherwise a unique target with the same description.
    """

    def same(t: TargetSpec) -> bool:
        return bool(t.channel == row["channel"] and describe_target(t) == row["target"])

    index = int(row["target_index"])
    if index < len(alert.notify) and same(alert.notify[index]):
        return index
    matches = [i for i, t in enumerate(alert.notify) if same(t)]
    return matches[0] if len(matches) == 1 else None


def _deliver_one(
    row: dict[str, Any], target: TargetSpec, settings: Settings, db: StateDB, deadline: float
) -> dict[str, Any]:
    """Deliver one outbox row (with retries) and record where it stands."""

    def started(a: Attempt) -> None:
        outbox.begin_attempt(db, row["event_id"], row["alert"], asdict(a))

    def ended(a: Attempt) -> None:
        outbox.end_attempt(db, asdict(a))

    outcome = deliver(
        AlertEvent.from_payload(json.loads(row["payload"])),
        target,
        smtp=settings.smtp,
        deadline=deadline,
        on_attempt=ended,
        on_start=started,
        first_attempt=row["attempts"] + 1,
    )
    status = {"delivered": "delivered", "permanent": "failed"}.get(outcome.outcome, "pending")
    error = None if status == "delivered" else outcome.detail
    outbox.finish_notification(db, row["event_id"], status, error, datetime.now(UTC))
    return _result(row, status, outcome.attempts, outcome.detail)


def _result(row: dict[str, Any], status: str, attempts: int, detail: str) -> dict[str, Any]:
    return {
        "event_id": row["event_id"],
        "channel": row["channel"],
        "target": row["target"],
        "reason": row["reason"],
        "outcome": status,
        "attempts": attempts,
        "detail": detail,
    }
