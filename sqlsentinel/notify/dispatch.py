"""Outbox dispatch: deliver the notifications a run claimed, after its transaction committed.

Targets are served in parallel, so a slow or failing one never delays the others. The
claim gave each target its newest notification (see state/outbox.py), or, for a keyed
alert's grouped messages, all of them oldest first: those go out one after the other, and
the ones after a message that must be retried wait for it, so a receiver never sees them
out of order. Every attempt is on record before it is made.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.delivery import Attempt, Claim, NotificationResult, NotificationStatus
from sqlsentinel.core.event import GROUPED_SCHEMA_VERSION, AlertEvent
from sqlsentinel.core.run import Clock, utc_now
from sqlsentinel.core.spec import AlertSpec, Settings, TargetSpec
from sqlsentinel.notify.deliver import deliver, describe_target
from sqlsentinel.state import outbox
from sqlsentinel.state.db import StateDB

if TYPE_CHECKING:
    from sqlsentinel.core.grouped import Notification

Queue = list[tuple[Claim, TargetSpec]]  # (outbox row, the target it goes to)
PENDING = NotificationStatus.PENDING
_WAITS = "waits for an earlier notification to this target"


def deliver_claimed(
    alert: AlertSpec,
    settings: Settings,
    db: StateDB,
    claims: list[Claim],
    deadline: float,
    clock: Clock = utc_now,
) -> list[NotificationResult]:
    """Deliver outbox rows this run has claimed, within `deadline` (monotonic); `clock`
    stamps the records."""
    work: dict[int, Queue] = {}
    results: dict[str, NotificationResult] = {}
    for claim in claims:
        index = _find_target(alert, claim)
        if index is None:  # the target left the config since the event was queued
            reason = "target no longer in the config"
            abandoned = NotificationStatus.ABANDONED
            outbox.finish_notification(db, claim.event_id, abandoned, reason, clock())
            continue
        work.setdefault(index, []).append((claim, alert.notify[index]))

    def serve(queue: Queue) -> None:
        """One target's notifications, in order; the rest wait behind one left pending."""
        for position, (claim, target) in enumerate(queue):
            done = _deliver_one(claim, target, settings, db, deadline, clock)
            results[claim.event_id] = done
            if done.outcome is PENDING:
                for later, _ in queue[position + 1 :]:
                    outbox.finish_notification(db, later.event_id, PENDING, _WAITS, clock())
                    results[later.event_id] = NotificationResult.of(later, PENDING, 0, _WAITS)
                return

    if len(work) <= 1:
        for queue in work.values():
            serve(queue)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(work)) as pool:
            list(pool.map(serve, work.values()))
    return [results[c.event_id] for c in claims if c.event_id in results]


def _find_target(alert: AlertSpec, claim: Claim) -> int | None:
    """The position of the configured target an outbox row was queued for, if still configured.

    Its position decides when it still matches (descriptions hide secrets, so two targets
    may share one); otherwise a unique target with the same description.
    """

    def same(t: TargetSpec) -> bool:
        return bool(t.channel == claim.channel and describe_target(t) == claim.target)

    index = claim.target_index
    if index < len(alert.notify) and same(alert.notify[index]):
        return index
    matches = [i for i, t in enumerate(alert.notify) if same(t)]
    return matches[0] if len(matches) == 1 else None


def _deliver_one(
    claim: Claim, target: TargetSpec, settings: Settings, db: StateDB, deadline: float,
    clock: Clock,
) -> NotificationResult:  # fmt: skip
    """Deliver one outbox row (with retries) and record where it stands."""

    def started(a: Attempt) -> None:
        outbox.begin_attempt(db, a)

    def ended(a: Attempt) -> None:
        outbox.end_attempt(db, a)

    outcome = deliver(
        _event(json.loads(claim.payload)),
        target,
        smtp=settings.smtp,
        deadline=deadline,
        on_attempt=ended,
        on_start=started,
        first_attempt=claim.attempts + 1,
        wall=clock,
    )
    status = outcome.outcome.status
    error = None if status is NotificationStatus.DELIVERED else outcome.detail
    outbox.finish_notification(db, claim.event_id, status, error, clock())
    return NotificationResult.of(claim, status, outcome.attempts, outcome.detail)


def _event(payload: dict[str, Any]) -> Notification:
    """The event an outbox row carries: one alert's, or a keyed alert's grouped message."""
    if payload.get("schema_version") == GROUPED_SCHEMA_VERSION:
        from sqlsentinel.core.grouped import GroupedEvent

        return GroupedEvent.from_payload(payload)
    return AlertEvent.from_payload(payload)
