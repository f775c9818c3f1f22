"""One run of one alert: query -> decide (inside the state transaction) -> record -> dispatch."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlsentinel.core.budget import RunBudget, lease_seconds
from sqlsentinel.core.decide import Previous, Rule, Transition, decide, rule_of
from sqlsentinel.core.outcomes import CONFIG_ERROR, check_failed, condition_for
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.spec import AlertSpec, Settings
from sqlsentinel.engine.query import QueryResult, run_query
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.record import OutboxEntry, open_run

log = logging.getLogger("sqlsentinel.run")


@dataclass
class RunSummary:
    """What one run did, for the CLI's table and exit code."""

    alert: str
    run_id: str
    outcome: str
    state: str
    transition: str
    actual_value: Any = None
    threshold: Any = None
    error: str | None = None
    check_failed: bool = False
    notifications: list[dict[str, Any]] = field(default_factory=list)
    hung: bool = False

    @property
    def delivery_failed(self) -> bool:
        """A notification of this alert is still undelivered after this run."""
        return any(n["outcome"] != "delivered" for n in self.notifications)


def observe(
    alert: AlertSpec, triggered_by: str, scheduled_at: datetime | None, budget: RunBudget
) -> tuple[RunRecord, QueryResult]:
    """Run the query and describe what it found."""
    started = datetime.now(UTC)
    result = run_query(alert.database, alert.query, budget.timeout)
    record = RunRecord(
        run_id=uuid.uuid4().hex,
        alert=alert.name,
        triggered_by=triggered_by,
        scheduled_at=scheduled_at,
        started_at=started,
        finished_at=datetime.now(UTC),
        outcome=result.outcome,
        condition=condition_for(result.outcome, alert),
        actual_value=result.actual_value,
        threshold=result.threshold,
        context=result.context or None,
        error=result.error,
    )
    return record, result


def run_alert(
    alert: AlertSpec,
    settings: Settings,
    db: StateDB,
    triggered_by: str,
    scheduled_at: datetime | None = None,
) -> RunSummary:
    """Run `alert` once and record it; deliver what is due (and what earlier runs could not)."""
    budget = RunBudget(alert.timeout, time.monotonic())
    record, result = observe(alert, triggered_by, scheduled_at, budget)
    now = record.finished_at
    with open_run(db, alert.name, now) as tx:
        prev = tx.previous
        t = decide(prev, record.condition, rule_of(alert), tx.silenced, now)
        tx.write(record, t, _outbox_entries(alert, record, prev, t), settings.history_retention)
        lease = lease_seconds(budget.delivery_deadline - time.monotonic())
        claimed = tx.claim_pending(now, lease) if alert.notify else []
    summary = RunSummary(
        alert=alert.name,
        run_id=record.run_id,
        outcome=result.outcome,
        state=t.state.value,
        transition=t.reason.value,
        actual_value=result.actual_value,
        threshold=result.threshold,
        error=result.error,
        check_failed=check_failed(result.outcome, alert),
        hung=result.hung,
    )
    if claimed:
        from sqlsentinel.notify.dispatch import deliver_claimed

        deadline = budget.delivery_deadline
        summary.notifications = deliver_claimed(alert, settings, db, claimed, deadline)
    _log(summary, record, prev)
    return summary


def record_broken(
    name: str,
    error: str,
    settings: Settings,
    db: StateDB,
    triggered_by: str,
    scheduled_at: datetime | None = None,
) -> RunSummary:
    """Record a run of an alert whose own settings are broken: ERROR, `config_error`, `error`
    as the reason; nothing is sent (its targets may be what is broken)."""
    now = datetime.now(UTC)
    record = RunRecord(uuid.uuid4().hex, name, triggered_by, scheduled_at, now, now,
                       CONFIG_ERROR, "error", error=error)  # fmt: skip
    with open_run(db, name, now) as tx:
        prev = tx.previous
        t = decide(prev, "error", Rule(notify_on_error=False), tx.silenced, now)
        tx.write(record, t, [], settings.history_retention)
    summary = RunSummary(name, record.run_id, CONFIG_ERROR, t.state.value, t.reason.value,
                         error=error, check_failed=True)  # fmt: skip
    _log(summary, record, prev)
    return summary


def _log(summary: RunSummary, record: RunRecord, prev: Previous | None) -> None:
    log.info(
        "run finished alert=%r run_id=%s triggered_by=%s outcome=%s state=%s transition=%s "
        "previous_state=%s notifications=%d%s",
        summary.alert,
        summary.run_id,
        record.triggered_by,
        summary.outcome,
        summary.state,
        summary.transition,
        prev.state.value if prev else None,
        len(summary.notifications),
        f" error={summary.error!r}" if summary.error else "",
    )


def _outbox_entries(
    alert: AlertSpec, record: RunRecord, prev: Previous | None, t: Transition
) -> list[OutboxEntry]:
    """One outbox row per target when `t` notifies (each with its own event id)."""
    if t.notify is None or not alert.notify:
        return []
    from sqlsentinel.core.event import build_event
    from sqlsentinel.notify.deliver import describe_target

    entries = []
    for index, target in enumerate(alert.notify):
        event = build_event(alert, record, prev, t)
        entries.append(
            OutboxEntry(
                event.event_id,
                target.channel,
                describe_target(target),
                index,
                event.reason.value,
                event.to_payload(),
            )
        )
    return entries
