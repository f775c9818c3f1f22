"""`run --dry-run`: query, evaluate, show the transition and what would be sent; write nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.budget import RunBudget
from sqlsentinel.core.decide import decide, rule_of
from sqlsentinel.core.outcomes import check_failed
from sqlsentinel.core.spec import AlertSpec, Settings, TargetSpec
from sqlsentinel.engine.run import Trigger, observe
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.listings import peek

if TYPE_CHECKING:
    from sqlsentinel.engine.keyed_run import KeyedPlan


def dry_run_alert(alert: AlertSpec, settings: Settings, db: StateDB) -> dict[str, Any]:
    """One alert's would-be run, as a row for the CLI: what it found (value, threshold, the
    row's other columns, or a per-row alert's instances), the transition, and each message
    it would send (`would_send`) with a line per target (`would_notify`)."""
    row = _dry_run_keyed(alert, settings, db) if alert.key else _dry_run_one(alert, settings, db)
    news = row.get("news") or row["transition"]  # a per-row alert's: `2 firing, 1 resolved`
    row["would_notify"] = [f"{m['target']} ({news})" for m in row["would_send"]]
    return row


def _dry_run_one(alert: AlertSpec, settings: Settings, db: StateDB) -> dict[str, Any]:
    """A one-row alert's would-be run: nothing is written or sent."""
    budget = RunBudget(alert.timeout, time.monotonic())
    record, result = observe(alert, Trigger(), budget, dry_run=True)
    now = datetime.now(UTC)
    prev, silenced = peek(db, alert.name, now)
    t = decide(prev, record.condition, rule_of(alert), silenced, now, record.severity)
    would_send: list[dict[str, Any]] = []
    if t.notify is not None:
        from sqlsentinel.core.event import build_event
        from sqlsentinel.engine.routing import alert_sends, targets_of
        from sqlsentinel.notify.deliver import preview

        event = build_event(alert, record, prev, t)
        would_send = [
            preview(event, alert.notify[i], smtp=settings.smtp)
            for send in alert_sends(alert, t, silenced, None, now)
            for i in targets_of(alert, send.receiver)
        ]
    return {
        "alert": alert.name,
        "outcome": result.outcome,
        "state": t.state.value,
        "previous_state": prev.state.value if prev else None,
        "transition": t.reason.value,
        "severity": t.severity.value,
        "actual_value": result.actual_value,
        "threshold": result.threshold,
        "context": result.context,
        "error": result.error,
        "would_send": would_send,
        "check_failed": check_failed(result.outcome, alert),
    }


def _told(
    alert: AlertSpec, plan: KeyedPlan, silenced: frozenset[str], whole: bool, now: datetime
) -> list[TargetSpec]:
    """The targets a keyed run's grouped messages would go to (the policy's receivers)."""
    from sqlsentinel.engine.routing import alert_sends, instance_sends, targets_of

    t = plan.transition
    told = {s.receiver for s in alert_sends(alert, t, whole, None, now)}
    told.update(instance_sends(alert, plan.decisions, silenced, whole, None, now))
    return [alert.notify[i] for i in sorted(i for r in told for i in targets_of(alert, r))]


def _dry_run_keyed(alert: AlertSpec, settings: Settings, db: StateDB) -> dict[str, Any]:
    """A keyed alert's would-be run, as a row for the CLI: nothing is written or sent."""
    from sqlsentinel.core.grouped import build_grouped
    from sqlsentinel.engine.keyed_run import plan_run
    from sqlsentinel.notify.deliver import preview
    from sqlsentinel.state.instances import peek_instances

    record, result = observe(alert, Trigger(), RunBudget(alert.timeout, time.monotonic()),
                             dry_run=True)  # fmt: skip
    now = datetime.now(UTC)
    prev, silenced = peek(db, alert.name, now)
    known, silenced_instances, prev_outcome = peek_instances(db, alert.name, now)
    plan = plan_run(alert, record, (prev, prev_outcome, silenced), known, silenced_instances, now)
    event = build_grouped(alert, record, prev, plan.transition, plan.decisions, plan.counts)
    targets = _told(alert, plan, silenced_instances, silenced, now) if event is not None else ()
    return {
        "alert": alert.name,
        "outcome": result.outcome,
        "state": plan.transition.state.value,
        "previous_state": prev.state.value if prev else None,
        "transition": plan.transition.reason.value,
        "severity": plan.transition.severity.value,
        "instances": plan.summary(),
        "error": result.error,
        "would_send": [preview(event, t, smtp=settings.smtp) for t in targets if event],
        "news": event.summary() if event else None,
        "check_failed": check_failed(result.outcome, alert),
    }
