"""One run of one alert: query -> decide (inside the state transaction) -> record -> dispatch."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.budget import RunBudget, lease_seconds
from sqlsentinel.core.decide import Previous, Rule, Transition, decide, rule_of
from sqlsentinel.core.delivery import Claim, NotificationResult, NotificationStatus
from sqlsentinel.core.outcomes import CONFIG_ERROR, check_failed, condition_for
from sqlsentinel.core.run import Clock, RunRecord, utc_now
from sqlsentinel.core.spec import AlertSpec, Settings
from sqlsentinel.engine.query import QueryResult, run_query
from sqlsentinel.errors import StateDBError
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.record import OutboxEntry, RunTransaction, open_run, recorded

if TYPE_CHECKING:
    from sqlsentinel.engine.heartbeat import Signal
    from sqlsentinel.state.spool import Spool

log = logging.getLogger("sqlsentinel.run")
MIN_DELIVERY_S = 1.0  # no further claim with less delivery time than this left


@dataclass(frozen=True)
class Trigger:
    """Who started a run, and when: the elapse its timer handed it, and the process launch."""

    triggered_by: str = "MANUAL"
    handed_elapse: datetime | None = None  # TRIGGER_TIMER_REALTIME_USEC (see engine.scheduled)
    launched_at: datetime | None = None
    offset: float = 0.0  # the timer's fixed random delay (jitter), seconds

    def scheduled_at(self, alert: AlertSpec) -> datetime | None:
        """The elapse of `alert`'s timer this run belongs to (None when no timer started it)."""
        if self.handed_elapse is None or self.launched_at is None:
            return self.handed_elapse
        from sqlsentinel.engine.scheduled import scheduled_elapse

        return scheduled_elapse(alert, self.handed_elapse, self.launched_at, self.offset)

    def launched_monotonic(self) -> float | None:
        """The launch on the monotonic clock (for the run's budget)."""
        if self.launched_at is None:
            return None
        return time.monotonic() - (time.time() - self.launched_at.timestamp())


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
    notifications: list[NotificationResult] = field(default_factory=list)
    undelivered: int = 0  # notifications of the alert left pending that nobody is delivering
    hung: bool = False
    instances: dict[str, Any] | None = None  # a keyed alert's: counts and what changed
    severity: str | None = None  # of the state after the run (core.decide)

    @property
    def delivery_failed(self) -> bool:
        """A notification of this alert is still undelivered after this run."""
        delivered = NotificationStatus.DELIVERED
        return self.undelivered > 0 or any(n.outcome is not delivered for n in self.notifications)


def observe(
    alert: AlertSpec,
    trigger: Trigger,
    budget: RunBudget,
    *,
    dry_run: bool = False,
    clock: Clock = utc_now,
) -> tuple[RunRecord, QueryResult]:
    """Run the query and describe what it found."""
    started = clock()
    if alert.key:
        from sqlsentinel.engine.keyed_query import run_keyed_query

        result = run_keyed_query(alert, budget.query_timeout, dry_run=dry_run)
    else:
        result = run_query(alert.database, alert.query, budget.query_timeout, dry_run=dry_run)
    record = RunRecord(
        run_id=os.urandom(16).hex(),  # 128 random bits, like a uuid4's hex
        alert=alert.name,
        triggered_by=trigger.triggered_by,
        scheduled_at=trigger.scheduled_at(alert),
        launched_at=trigger.launched_at,
        started_at=started,
        finished_at=clock(),
        outcome=result.outcome,
        condition=condition_for(result.outcome, alert),
        actual_value=result.actual_value,
        threshold=result.threshold,
        context=result.context or None,
        error=result.error,
        instances=result.instances,
        severity=result.severity,
    )
    return record, result


def run_alert(
    alert: AlertSpec,
    settings: Settings,
    db: StateDB,
    trigger: Trigger,
    spool: Spool | None,
    clock: Clock = utc_now,
) -> RunSummary:
    """Run `alert` once and record it; deliver what is due (and what earlier runs could not).

    A result that cannot be written before the run's deadline is kept in the spool and
    recorded by the next run of the alert (StateDBError says so). `clock` is the wall
    clock every record of the run is stamped with.
    """
    budget = RunBudget(alert.timeout, time.monotonic(), trigger.launched_monotonic())
    if alert.heartbeat_url and alert.heartbeat_start:
        _heartbeat(alert, "start", budget)
    record, result = observe(alert, trigger, budget, clock=clock)
    try:
        db.ensure_schema(budget.delivery_deadline)
        if spool is not None:
            _record_spooled(alert, settings, db, spool, budget, clock)
        prev, t, claimed, instances = _record(
            alert, settings, db, record, budget, spooled=False, clock=clock
        )
    except StateDBError as exc:
        if spool is None:
            raise
        raise StateDBError(f"{exc}; {spool.keep(record)}") from None
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
        instances=instances,
        severity=t.severity.value,
    )
    if claimed or alert.notify:
        summary.notifications, summary.undelivered = _deliver(
            alert, settings, db, claimed, budget, clock
        )
    if alert.heartbeat_url:
        _heartbeat(alert, "fail" if summary.check_failed else "success", budget)
    _log(summary, record, prev)
    return summary


def _record_spooled(
    alert: AlertSpec, settings: Settings, db: StateDB, spool: Spool, budget: RunBudget,
    clock: Clock,
) -> None:  # fmt: skip
    """Record the results earlier runs of `alert` kept in the spool, oldest first."""
    for name, waiting in spool.waiting(alert.name):
        if not recorded(db, waiting.run_id):
            _record(alert, settings, db, waiting, budget, spooled=True, clock=clock)
        spool.remove(alert.name, name)


def _heartbeat(alert: AlertSpec, signal: Signal, budget: RunBudget) -> None:
    """Ping the alert's dead-man's switch (engine/heartbeat.py; loaded only when used)."""
    from sqlsentinel.engine.heartbeat import ping

    ping(alert, signal, budget.hard_end)


def _record(
    alert: AlertSpec,
    settings: Settings,
    db: StateDB,
    record: RunRecord,
    budget: RunBudget,
    *,
    spooled: bool,
    clock: Clock,
) -> tuple[Previous | None, Transition, list[Claim], dict[str, Any] | None]:
    """Decide inside the alert's state transaction, write it, claim what is due."""
    now = record.finished_at
    instances: dict[str, Any] | None = None
    with open_run(db, alert.name, now, budget.delivery_deadline) as tx:
        if alert.key:  # per-row: every instance decided in this same transaction
            from sqlsentinel.engine.keyed_run import write_keyed

            t, instances = write_keyed(alert, settings, tx, record, spooled=spooled)
        else:
            rule = rule_of(alert)
            t = decide(tx.previous, record.condition, rule, tx.silenced, now, record.severity)
            entries = _outbox_entries(alert, record, tx, t)
            told = any(e.reason == t.notify for e in entries)  # not just a receiver's repeat
            tx.write(record, t, entries, settings.history_retention, spooled=spooled, told=told)
        lease = lease_seconds(budget.delivery_deadline - time.monotonic())
        in_order = bool(alert.key)  # grouped messages carry different instances: none is stale
        claimed = tx.claim_pending(clock(), lease, in_order=in_order) if alert.notify else []
    return tx.previous, t, claimed, instances


def _deliver(
    alert: AlertSpec,
    settings: Settings,
    db: StateDB,
    claimed: list[Claim],
    budget: RunBudget,
    clock: Clock,
) -> tuple[list[NotificationResult], int]:
    """Deliver what the run claimed, then what became free for its targets meanwhile (queued
    behind its own deliveries by runs that started while it delivered), each row once.

    Returns the attempts' results and how many notifications are left that no live run
    holds or will send (outbox.free_pending): with this run's failures, its exit 5.
    """
    from sqlsentinel.state.outbox import free_pending

    sent: list[NotificationResult] = []
    seen: set[str] = set()
    while True:
        if claimed:
            from sqlsentinel.notify.dispatch import deliver_claimed

            deadline = budget.delivery_deadline
            sent += deliver_claimed(alert, settings, db, claimed, deadline, clock)
            seen |= {c.event_id for c in claimed}
        if not alert.notify:
            return sent, 0
        free = [e for e in free_pending(db, alert.name, clock()) if e not in seen]
        if not free or budget.delivery_deadline - time.monotonic() < MIN_DELIVERY_S:
            return sent, len(free)
        claimed = _claim_more(db, alert, budget, frozenset(seen), clock)
        if not claimed:  # another run took them meanwhile
            return sent, len([e for e in free_pending(db, alert.name, clock()) if e not in seen])


def _claim_more(
    db: StateDB, alert: AlertSpec, budget: RunBudget, seen: frozenset[str], clock: Clock
) -> list[Claim]:
    """Claim what is free for the rest of the run's delivery budget, but for targets with a
    notification this run attempted already; a per-row alert's grouped messages in order."""
    from sqlsentinel.state.outbox import claim_in

    with db.write(budget.delivery_deadline) as tx:
        lease = lease_seconds(budget.delivery_deadline - time.monotonic())
        return claim_in(tx, alert.name, clock(), lease, in_order=bool(alert.key), skip=seen)


def record_broken(
    name: str, error: str, settings: Settings, db: StateDB, trigger: Trigger
) -> RunSummary:
    """Record a run of an alert whose own settings are broken: ERROR, `config_error`, `error`
    as the reason; nothing is sent (its targets may be what is broken)."""
    now = datetime.now(UTC)
    record = RunRecord(
        os.urandom(16).hex(), name, trigger.triggered_by, trigger.handed_elapse,
        trigger.launched_at, now, now, CONFIG_ERROR, "error", error=error,
    )  # fmt: skip
    db.ensure_schema()
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
        "previous_state=%s notifications=%d%s%s",
        summary.alert,
        summary.run_id,
        record.triggered_by,
        summary.outcome,
        summary.state,
        summary.transition,
        prev.state.value if prev else None,
        len(summary.notifications),
        f" error={summary.error!r}" if summary.error else "",
        _instances_text(summary.instances),
    )


def _instances_text(instances: dict[str, Any] | None) -> str:
    """` instances=ALERT:2,PENDING:0,OK:38 changed=3` for a keyed alert's log line."""
    if instances is None:
        return ""
    tally = ",".join(f"{state}:{n}" for state, n in instances["counts"].items())
    return f" instances={tally} changed={instances['changed_total']}"


def _outbox_entries(
    alert: AlertSpec, record: RunRecord, tx: RunTransaction, t: Transition
) -> list[OutboxEntry]:
    """One outbox row per target of each receiver told (each with its own event id)."""
    if not alert.notify:
        return []
    from sqlsentinel.engine.routing import alert_sends, last_sent, targets_of

    now = record.finished_at
    sends = alert_sends(alert, t, tx.silenced, last_sent(tx.tx, alert, now), now)
    if not sends:
        return []
    from sqlsentinel.core.event import build_event
    from sqlsentinel.notify.deliver import describe_target

    entries = []
    for send in sends:
        for index in targets_of(alert, send.receiver):
            target = alert.notify[index]
            event = build_event(alert, record, tx.previous, t, reason=send.reason)
            entries.append(OutboxEntry.of(event, target.channel, describe_target(target), index))
    return entries
