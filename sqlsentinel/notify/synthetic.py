"""`sqlsentinel notify-test`: a synthetic event sent through each of an alert's targets
(for a keyed alert, a grouped message listing two example instances, as its runs send)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.delivery import Attempt, DeliveryOutcome
from sqlsentinel.core.event import AlertEvent, make_dedup_key, new_event_id
from sqlsentinel.core.grouped import GroupedEvent, InstanceNotice, Notification
from sqlsentinel.core.instances import instance_key
from sqlsentinel.core.spec import AlertSpec, SmtpSpec
from sqlsentinel.notify.deliver import deliver, describe_target, preview

TEST_BUDGET = 20.0  # seconds per target
NOTE = "Test message from sqlsentinel notify-test; no action is needed."


def _firing() -> dict[str, Any]:
    """What a test event and each of its example instances say: firing, over threshold."""
    return {"state": "ALERT", "previous_state": "OK", "actual_value": Decimal("42.5"),
            "threshold": Decimal("40"), "context": {"note": NOTE}}  # fmt: skip


@dataclass(frozen=True)
class TargetReport:
    """What happened (or, with dry_run, would happen) for one target."""

    channel: str
    target: str
    outcome: str  # a DeliveryOutcome, or "dry_run" (nothing was sent)
    attempts: int
    detail: str
    preview: dict[str, Any] | None = field(default=None)


def build_test_event(alert: AlertSpec, *, now: datetime | None = None) -> Notification:
    """A firing-looking event marked as a test (reason `test`, triggered by `TEST`); for a
    keyed alert, a grouped message (schema version 2) with two firing example instances."""
    at = now or datetime.now(UTC)
    event = AlertEvent(
        event_id=new_event_id(),
        dedup_key=make_dedup_key(alert.name, "TEST", at),
        alert=alert.name,
        description=alert.description,
        reason=NotifyReason.TEST,
        error=None,
        outcome="alert",
        occurred_at=at,
        state_since=at,
        tags=alert.tags,
        triggered_by="TEST",
        run_id="test-" + uuid.uuid4().hex[:12],
        severity=alert.severity,
        **_firing(),
    )
    if not alert.key:
        return event
    examples = tuple(_example(alert, n, at) for n in (1, 2))
    return GroupedEvent(event, True, alert.key, {"ALERT": len(examples)}, examples)


def _example(alert: AlertSpec, n: int, at: datetime) -> InstanceNotice:
    key = {column: f"example-{n}" for column in alert.key}
    ikey = instance_key(key.values())
    return InstanceNotice(
        event_id=new_event_id(),
        dedup_key=make_dedup_key(f"{alert.name}:{ikey}", "TEST", at),
        key=key,
        instance_key=ikey,
        reason=NotifyReason.FIRING,
        state_since=at,
        in_result=True,
        severity=alert.severity,
        **_firing(),
    )


def send_test(
    alert: AlertSpec,
    smtp: SmtpSpec | None,
    *,
    dry_run: bool = False,
    budget: float = TEST_BUDGET,
    on_attempt: Callable[[Attempt], None] = lambda _attempt: None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[TargetReport]:
    """Send (or preview) a test event to every target of `alert`, each within `budget` s."""
    event = build_test_event(alert)
    reports = []
    for target in alert.notify:
        described = describe_target(target)
        if dry_run:
            shown = preview(event, target, smtp=smtp)
            outcome = DeliveryOutcome.PERMANENT if "error" in shown else "dry_run"
            detail = str(shown.get("error", "not sent (dry run)"))
            reports.append(TargetReport(target.channel, described, outcome, 0, detail, shown))
            continue
        result = deliver(
            event,
            target,
            smtp=smtp,
            deadline=time.monotonic() + budget,
            on_attempt=on_attempt,
            sleep=sleep,
        )
        reports.append(
            TargetReport(target.channel, described, result.outcome, result.attempts, result.detail)
        )
    return reports
