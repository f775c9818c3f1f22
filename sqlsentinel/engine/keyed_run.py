"""One run of a keyed alert: every instance decided inside the alert's state transaction.

The same recipe as a one-row run (engine/run.py): `open_run` locks the alert's state
row, and under that lock the run reads its instances and their silences, decides each
with `core.decide`, writes them, the alert's summary row, one grouped outbox row per
target and the history row, and claims what is due, so concurrent runs of one alert never
notify an instance twice for one transition. A failed check (an error outcome) decides
the alert as a whole, as for a one-row alert, and leaves every instance as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlsentinel.core.decide import Previous, Transition, decide, rule_of
from sqlsentinel.core.grouped import build_grouped
from sqlsentinel.core.instances import (
    InstanceDecision,
    Known,
    counts,
    decide_instances,
    history_summary,
    states_after,
    summary_transition,
)
from sqlsentinel.core.outcomes import ALERT, OK
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.spec import AlertSpec, Settings
from sqlsentinel.state.instances import known_instances, save_instances, silenced_keys
from sqlsentinel.state.record import OutboxEntry, RunTransaction


@dataclass(frozen=True)
class KeyedPlan:
    """What one keyed run decided."""

    transition: Transition  # the alert as a whole
    decisions: list[InstanceDecision]  # empty when the check failed
    counts: dict[str, int]  # instances in each state after the run

    def summary(self) -> dict[str, Any]:
        """The run's instances for its history row and output."""
        return history_summary(self.decisions, self.counts)


def plan_run(
    alert: AlertSpec,
    record: RunRecord,
    previous: tuple[Previous | None, str | None, bool],
    known: Mapping[str, Known],
    silenced: frozenset[str],
    now: datetime,
) -> KeyedPlan:
    """Decide a keyed run from what it found and what the state database holds:
    `previous` is the alert's own (state, last outcome, silenced)."""
    prev, prev_outcome, whole_silenced = previous
    rule = rule_of(alert)
    if record.instances is None:  # the check failed: the alert as a whole, as one row
        t = decide(prev, record.condition, rule, whole_silenced, now)
        return KeyedPlan(t, [], counts(k.previous.state for k in known.values()))
    decisions = decide_instances(
        known,
        record.instances,
        rule,
        lambda key: whole_silenced or key in silenced,
        alert.on_missing,
        now,
    )
    after_failure = prev_outcome is not None and prev_outcome not in (OK, ALERT)
    t = summary_transition(prev, decisions, after_failure, rule, whole_silenced, now)
    return KeyedPlan(t, decisions, counts(states_after(decisions)))


def write_keyed(
    alert: AlertSpec, settings: Settings, run: RunTransaction, record: RunRecord, *, spooled: bool
) -> tuple[Transition, dict[str, Any]]:
    """Decide every instance inside the run's open transaction and write it all; returns the
    alert's own transition and the run's instance summary (for history)."""
    now = record.finished_at
    known = known_instances(run.tx, alert.name)
    previous = (run.previous, run.previous_outcome, run.silenced)
    silenced = silenced_keys(run.tx, alert.name, now)
    plan = plan_run(alert, record, previous, known, silenced, now)
    entries = outbox_entries(alert, record, run, plan, silenced)
    summary = plan.summary()
    told = plan.transition.notify is not None
    run.write(record, plan.transition, entries, settings.history_retention,
              spooled=spooled, told=told, instances=summary)  # fmt: skip
    save_instances(run.tx, alert.name, plan.decisions, now)
    return plan.transition, summary


def outbox_entries(
    alert: AlertSpec,
    record: RunRecord,
    run: RunTransaction,
    plan: KeyedPlan,
    silenced: frozenset[str] = frozenset(),
) -> list[OutboxEntry]:
    """One grouped message per target of each receiver told (each with its own event ids):
    the instances routed to that receiver, and the alert's own news when it has some."""
    from sqlsentinel.engine.routing import (
        alert_sends,
        instance_sends,
        last_sent,
        repeats,
        targets_of,
    )

    due = plan.transition.notify or any(d.transition.notify for d in plan.decisions)
    if not alert.notify or not (due or repeats(alert) is not None):
        return []
    from sqlsentinel.notify.deliver import describe_target

    now, t = record.finished_at, plan.transition
    last = last_sent(run.tx, alert, now)
    sends = alert_sends(alert, t, run.silenced, last, now)
    whole = {s.receiver for s in sends if s.reason is t.notify}  # the whole never repeats
    per = instance_sends(alert, plan.decisions, silenced, run.silenced, last, now)
    entries = []
    for receiver in dict.fromkeys([*whole, *per]):
        own = t if receiver in whole else replace(t, notify=None)
        for index in targets_of(alert, receiver):
            target = alert.notify[index]
            event = build_grouped(
                alert, record, run.previous, own, per.get(receiver, []), plan.counts
            )
            if event is not None:
                entries.append(
                    OutboxEntry.of(event, target.channel, describe_target(target), index)
                )
    return entries
