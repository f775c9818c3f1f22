"""One run of one alert, top to bottom: query -> evaluate -> decide and record -> deliver."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlsentinel.config.spec import AlertSpec, NotifyTarget, Settings
from sqlsentinel.engine.evaluate import check_failed, condition_for
from sqlsentinel.engine.query import QueryResult, run_query
from sqlsentinel.state import store
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.transitions import Previous, Rule, Transition

if TYPE_CHECKING:
    from sqlsentinel.notify.event import AlertEvent

log = logging.getLogger("sqlsentinel.run")
DELIVERY_BUDGET_S = 60.0  # seconds a run may spend delivering, after its query


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
        return any(n["outcome"] not in {"delivered", "would_send"} for n in self.notifications)


def rule_of(alert: AlertSpec) -> Rule:
    """The transition settings of `alert`."""
    return Rule(alert.for_, alert.repeat_interval, alert.notify_on_resolve, alert.notify_on_error)


def run_alert(
    alert: AlertSpec,
    settings: Settings,
    db: StateDB,
    triggered_by: str,
    scheduled_at: datetime | None = None,
) -> RunSummary:
    """Run `alert` once and record it; deliver what is due (and what earlier runs could not)."""
    run_id = uuid.uuid4().hex
    started = datetime.now(UTC)
    t0 = time.monotonic()
    result = run_query(alert.database, alert.query, alert.timeout)
    finished = datetime.now(UTC)
    record = store.RunRecord(
        run_id=run_id,
        alert=alert.name,
        triggered_by=triggered_by,
        scheduled_at=scheduled_at,
        started_at=started,
        finished_at=finished,
        outcome=result.outcome,
        condition=condition_for(result.outcome, alert),
        actual_value=result.actual_value,
        threshold=result.threshold,
        context=result.context or None,
        error=result.error,
    )

    def make_events(prev: Previous | None, t: Transition) -> list[store.OutboxEntry]:
        return _outbox_entries(alert, record, result, prev, t)

    prev, transition, _ = store.record_run(
        db, record, rule_of(alert), make_events, settings.history_retention
    )
    summary = RunSummary(
        alert=alert.name,
        run_id=run_id,
        outcome=result.outcome,
        state=transition.state.value,
        transition=transition.reason.value,
        actual_value=result.actual_value,
        threshold=result.threshold,
        error=result.error,
        check_failed=check_failed(result.outcome, alert),
        hung=result.hung,
    )
    if alert.notify:
        deadline = t0 + alert.timeout + DELIVERY_BUDGET_S
        summary.notifications = deliver_pending(alert, settings, db, deadline)
    log.info(
        "run finished alert=%r run_id=%s triggered_by=%s outcome=%s state=%s transition=%s "
        "previous_state=%s notifications=%d%s",
        alert.name,
        run_id,
        triggered_by,
        result.outcome,
        transition.state.value,
        transition.reason.value,
        prev.state.value if prev else None,
        len(summary.notifications),
        f" error={result.error!r}" if result.error else "",
    )
    return summary


def _outbox_entries(
    alert: AlertSpec,
    record: store.RunRecord,
    result: QueryResult,
    prev: Previous | None,
    t: Transition,
) -> list[store.OutboxEntry]:
    from sqlsentinel.notify.deliver import describe_target

    entries = []
    for index, target in enumerate(alert.notify):
        event = build_event(alert, record, result, prev, t)
        entries.append(
            store.OutboxEntry(
                event.event_id,
                target.kind,
                describe_target(target),
                index,
                event.reason.value,
                event.to_payload(),
            )
        )
    return entries


def _find_target(alert: AlertSpec, row: dict[str, Any]) -> NotifyTarget | None:
    """The configured target an outbox row was queued for, if it is still configured.

    Its position decides when it still matches (descriptions hide secrets, so two targets
    may share one); otherwise a unique target with the same description.
    """
    from sqlsentinel.notify.deliver import describe_target

    def same(t: NotifyTarget) -> bool:
        return bool(t.kind == row["channel"] and describe_target(t) == row["target"])

    index = int(row["target_index"])
    if index < len(alert.notify) and same(alert.notify[index]):
        return alert.notify[index]
    matches = [t for t in alert.notify if same(t)]
    return matches[0] if len(matches) == 1 else None


def build_event(
    alert: AlertSpec,
    record: store.RunRecord,
    result: QueryResult,
    prev: Previous | None,
    t: Transition,
) -> AlertEvent:
    """The notification event for transition `t` of this run."""
    from sqlsentinel.notify.event import AlertEvent, NotifyReason, make_dedup_key, new_event_id

    assert t.notify is not None
    return AlertEvent(
        event_id=new_event_id(),
        dedup_key=make_dedup_key(alert.name, t.state.value, t.since),
        alert=alert.name,
        description=alert.description,
        state=t.state.value,
        previous_state=prev.state.value if prev else None,
        reason=NotifyReason(t.notify.value),
        actual_value=result.actual_value,
        threshold=result.threshold,
        context=result.context,
        error=result.error,
        outcome=result.outcome,
        occurred_at=record.finished_at,
        state_since=t.since,
        tags=alert.tags,
        triggered_by=record.triggered_by,
        run_id=record.run_id,
    )


def deliver_pending(
    alert: AlertSpec, settings: Settings, db: StateDB, deadline: float
) -> list[dict[str, Any]]:
    """Deliver this alert's pending notifications within `deadline` (monotonic).

    Targets are served in parallel, so a slow or failing one never delays the others;
    each target gets its notifications oldest first, and one that must be retried holds
    back the later ones for that target, so a receiver never sees them out of order.
    """
    from concurrent.futures import ThreadPoolExecutor

    now = datetime.now(UTC)
    lease = max(1.0, deadline - time.monotonic()) + 30.0
    groups: dict[int, list[tuple[dict[str, Any], NotifyTarget]]] = {}
    results: dict[str, dict[str, Any]] = {}
    rows = store.claim_pending(db, alert.name, now, lease)
    for row in rows:
        target = _find_target(alert, row)
        if target is None:  # the target left the config since the event was queued
            store.finish_notification(
                db, row["event_id"], "abandoned", row["attempts"],
                "target no longer in the config", datetime.now(UTC),
            )  # fmt: skip
            continue
        groups.setdefault(alert.notify.index(target), []).append((row, target))

    def serve(queue: list[tuple[dict[str, Any], NotifyTarget]]) -> None:
        held = False
        for row, target in queue:
            if held:  # an earlier notification to this target is still pending
                store.finish_notification(
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
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            list(pool.map(serve, groups.values()))
    return [results[r["event_id"]] for r in rows if r["event_id"] in results]


def _deliver_one(
    row: dict[str, Any], target: NotifyTarget, settings: Settings, db: StateDB, deadline: float
) -> dict[str, Any]:
    """Deliver one outbox row (with retries) and record where it stands."""
    from sqlsentinel.notify.deliver import Attempt, deliver
    from sqlsentinel.notify.event import AlertEvent

    def record(a: Attempt) -> None:
        store.record_attempt(db, asdict(a))

    outcome = deliver(
        AlertEvent.from_payload(json.loads(row["payload"])),
        target,
        smtp=settings.smtp,
        deadline=deadline,
        on_attempt=record,
        first_attempt=row["attempts"] + 1,
    )
    status = {"delivered": "delivered", "permanent": "failed"}.get(outcome.outcome, "pending")
    store.finish_notification(
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
