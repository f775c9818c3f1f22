"""Outbox dispatch: deliver an alert's pending notifications after its run has committed.

Targets are served in parallel, so a slow or failing one never delays the others;
each target gets its notifications oldest first, and one that must be retried holds
back the later ones for that target, so a receiver never sees them out of order.
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

Queue = list[tuple[dict[str, Any], TargetSpec]]


def deliver_claimed(
    alert: AlertSpec,
    settings: Settings,
    db: StateDB,
    rows: list[dict[str, Any]],
    deadline: float,
) -> list[dict[str, Any]]:
    """Deliver outbox rows this run has claimed, within `deadline` (monotonic)."""
    groups: dict[int, Queue] = {}
    results: dict[str, dict[str, Any]] = {}
    for row in rows:
        index = _find_target(alert, row)
        if index is None:  # the target left the config since the event was queued
            outbox.finish_notification(
                db, row["event_id"], "abandoned", row["attempts"],
                "target no longer in the config", datetime.now(UTC),
            )  # fmt: skip
            continue
        groups.setdefault(index, []).append((row, alert.notify[index]))

    def serve(queue: Queue) -> None:
        held = False
        for row, target in queue:
            if held:  # an earlier notification to this target is still pending
                outbox.finish_notification(
                    db, row["event_id"], "pending", row["attempts"],
                    "waiting for an earlier notification to this target", datetime.now(UTC),
                )  # fmt: skip
                results[row["event_id"]] = _result(row, "pending", 0, "held back")
                continue
            results[row["event_id"]] = _deliver_one(row, target, settings, db, deadline)
            held = results[row["event_id"]]["outcome"] == "pending"

    if len(groups) <= 1:
        for queue in groups.values():
            serve(queue)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            list(pool.map(serve, groups.values()))
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

    def record(a: Attempt) -> None:
        outbox.record_attempt(db, asdict(a))

    outcome = deliver(
        AlertEvent.from_payload(json.loads(row["payload"])),
        target,
        smtp=settings.smtp,
        deadline=deadline,
        on_attempt=record,
        first_attempt=row["attempts"] + 1,
    )
    status = {"delivered": "delivered", "permanent": "failed"}.get(outcome.outcome, "pending")
    outbox.finish_notification(
        db,
        row["event_id"],
        status,
        row["attempts"] + outcome.attempts,
        None if status == "delivered" else outcome.detail,
        datetime.now(UTC),
    )
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
