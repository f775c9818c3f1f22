"""A run's notifications through the receivers and the `policy:` (core/route.py decides).

Which of an alert's targets each notification goes to: the alert's inline targets and
the receivers its `notify:` names, plus those the policy routes the alert (or each
instance of a keyed alert, by its row's severity and key) to; and the repeats due per
receiver, from when the outbox last delivered to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.decide import NotifyReason, State, Transition
from sqlsentinel.core.delivery import NotificationStatus
from sqlsentinel.core.route import OWN, Send, Subject, key_text_of, route
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.state.db import Tx
from sqlsentinel.state.outbox import recent_sends

if TYPE_CHECKING:
    from sqlsentinel.core.instances import InstanceDecision

LastSent = dict[tuple[str, str | None], datetime]
"""(receiver, instance key or None for the alert) -> when it was last sent there."""


def own_receivers(alert: AlertSpec) -> tuple[str, ...]:
    """The receivers the alert's own `notify:` gives (OWN for its inline targets)."""
    inline = (OWN,) if any(t.receiver == OWN for t in alert.notify) else ()
    return (*inline, *alert.receivers)


def targets_of(alert: AlertSpec, receiver: str) -> list[int]:
    """The positions in `alert.notify` of `receiver`'s targets."""
    return [i for i, t in enumerate(alert.notify) if t.receiver == receiver]


def repeats(alert: AlertSpec) -> float | None:
    """The longest `repeat` of the rules that may route the alert (None: none repeat)."""
    return max((r.repeat for r in alert.policy if r.repeat is not None), default=None)


def last_sent(tx: Tx, alert: AlertSpec, now: datetime) -> LastSent:
    """When each receiver last had the alert (or each instance), looking back as far as the
    longest `repeat`; a notification still being delivered counts as sent now."""
    longest = repeats(alert)
    if longest is None:
        return {}
    out: LastSent = {}
    for row in recent_sends(tx, alert.name, now - timedelta(seconds=longest)):
        index = row["target_index"]
        if index >= len(alert.notify):
            continue
        receiver = alert.notify[index].receiver
        pending = row["status"] == NotificationStatus.PENDING
        when: datetime = now if pending else row["finished_at"]
        for key in _instances(row["payload"]) if alert.key else (None,):
            slot = (receiver, key)
            if slot not in out or out[slot] < when:
                out[slot] = when
    return out


def _instances(payload: str) -> Iterable[str]:
    return (n["instance_key"] for n in json.loads(payload).get("instances") or ())


def _subject(alert: AlertSpec, t: Transition, silenced: bool, key: dict[str, Any]) -> Subject:
    firing = t.state is State.ALERT and not silenced
    return Subject(alert.name, t.severity, firing, alert.tags, alert.database.name, key)


def alert_sends(
    alert: AlertSpec, t: Transition, silenced: bool, last: LastSent | None, now: datetime
) -> list[Send]:
    """The receivers the alert as a whole tells in this run, and why (`last` None: only
    what the run decided, no receiver's repeat)."""
    if t.notify is None and (last is None or repeats(alert) is None):
        return []
    subject = _subject(alert, t, silenced, {})
    slots = {name: when for (name, key), when in (last or {}).items() if key is None}
    own = own_receivers(alert)
    return route(subject, t.notify, own, alert.policy, slots, now, repeats=last is not None)


def instance_sends(
    alert: AlertSpec,
    decisions: Iterable[InstanceDecision],
    silenced: frozenset[str],
    whole_silenced: bool,
    last: LastSent | None,
    now: datetime,
) -> dict[str, list[InstanceDecision]]:
    """Receiver -> the instances it is told about in this run (each with the reason: a
    receiver's due `repeat` shows as the reason `repeat`), in the order of `decisions`
    (`last` None: only what the run decided)."""
    own, repeating = own_receivers(alert), last is not None and repeats(alert) is not None
    out: dict[str, list[InstanceDecision]] = {}
    for d in decisions:
        t = d.transition
        if t.notify is None and not repeating:
            continue
        hushed = whole_silenced or d.key in silenced
        subject = _subject(alert, t, hushed, key_text_of(d.key_values))
        slots = {name: when for (name, key), when in (last or {}).items() if key == d.key}
        for send in route(subject, t.notify, own, alert.policy, slots, now, repeats=repeating):
            told = d if send.reason is t.notify else _with_reason(d, send.reason)
            out.setdefault(send.receiver, []).append(told)
    return out


def _with_reason(d: InstanceDecision, reason: NotifyReason) -> InstanceDecision:
    return replace(d, transition=replace(d.transition, notify=reason))


def alert_targets(alert: AlertSpec, reason: NotifyReason, now: datetime) -> list[int]:
    """The positions in `alert.notify` told about the alert as a whole at its configured
    severity (a stale or recovered alert: no run decided a severity)."""
    subject = Subject(alert.name, alert.severity, False, alert.tags, alert.database.name)
    sends = route(subject, reason, own_receivers(alert), alert.policy, {}, now)
    return [i for s in sends for i in targets_of(alert, s.receiver)]
