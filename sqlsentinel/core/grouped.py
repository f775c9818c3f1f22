"""The grouped notification of a keyed alert: one message per target per run, listing its
instances (payload schema version 2, docs/webhook.md).

Each listed instance carries its own event id and dedup key; the message's event id (and
so its `Idempotency-Key`) is derived from theirs, so a retried message keeps its id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlsentinel.core.decide import NotifyReason, Previous, Transition
from sqlsentinel.core.event import (
    GROUPED_SCHEMA_VERSION,
    AlertEvent,
    Change,
    build_event,
    change_fields,
    iso,
    make_dedup_key,
    new_event_id,
)
from sqlsentinel.core.instances import InstanceDecision
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.severity import Severity, highest
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.digest import digest
from sqlsentinel.jsonsafe import to_jsonable

T = TypeVar("T")
# The order instance reasons are named in a message's summary and its outbox reason.
REASON_ORDER = (
    NotifyReason.FIRING, NotifyReason.ESCALATED, NotifyReason.SILENCE_ENDED, NotifyReason.REPEAT,
    NotifyReason.DEESCALATED, NotifyReason.RESOLVED,
)  # fmt: skip
REASON_WORDS = {
    NotifyReason.FIRING: "firing",
    NotifyReason.ESCALATED: "escalated",
    NotifyReason.DEESCALATED: "deescalated",
    NotifyReason.SILENCE_ENDED: "still firing (silence ended)",
    NotifyReason.REPEAT: "still firing",
    NotifyReason.RESOLVED: "resolved",
}
OWN_WORDS = {  # the alert as a whole: its check
    NotifyReason.ERROR: "the check failed",
    NotifyReason.RESOLVED: "the check works again",
    NotifyReason.TEST: "test message",
}


@dataclass(frozen=True, kw_only=True)
class InstanceNotice(Change):
    """One instance's transition, as a grouped message lists it."""

    key: dict[str, Any]  # key column -> value
    instance_key: str
    in_result: bool  # False: resolved because the result no longer had it

    def to_payload(self) -> dict[str, Any]:
        """The instance's entry of the payload's `instances` array."""
        return {
            "event_id": self.event_id,
            "dedup_key": self.dedup_key,
            "key": to_jsonable(self.key),
            "instance_key": self.instance_key,
            **self._change_payload(),
            "state_since": iso(self.state_since),
            "in_result": self.in_result,
        }

    @classmethod
    def from_payload(cls, d: dict[str, Any]) -> InstanceNotice:
        """Inverse of `to_payload` (values stay in their JSON form)."""
        return cls(
            **change_fields(d),
            key=dict(d["key"]),
            instance_key=d["instance_key"],
            in_result=bool(d.get("in_result", True)),
        )


class _Own(Generic[T]):
    """A field of the grouped message that is its alert event's."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, message: GroupedEvent, owner: type | None = None) -> T:
        value: T = getattr(message.alert_event, self.name)
        return value


@dataclass(frozen=True)
class GroupedEvent:
    """One run's message about a keyed alert: the alert as a whole, and its instances."""

    alert_event: AlertEvent  # the alert as a whole (its `reason` is only meaningful if `told`)
    told: bool  # the alert as a whole notifies (its check failed, or works again)
    key: tuple[str, ...]
    counts: dict[str, int]
    instances: tuple[InstanceNotice, ...]

    @property
    def event_id(self) -> str:
        """Derived from the instance event ids (and the alert's own, when it notifies)."""
        ids = sorted(n.event_id for n in self.instances)
        if self.told or not ids:
            ids.append(self.alert_event.event_id)
        return digest(*(i.encode() for i in ids), size=16)

    # The alert as a whole: its name, its state after the run (ALERT while any instance
    # fires), its own episode (each instance has its own) and when the run happened.
    alert = _Own[str]("alert")
    state = _Own[str]("state")
    dedup_key = _Own[str]("dedup_key")
    occurred_at = _Own[datetime]("occurred_at")

    @property
    def severity(self) -> Severity:
        """How loud the message is: the highest severity of the instances it lists (the
        alert's own when it lists none)."""
        return highest((n.severity for n in self.instances), self.alert_event.severity)

    @property
    def reason(self) -> NotifyReason:
        """The alert's own reason when it notifies, else the first of its instances'."""
        if self.told or not self.instances:
            return self.alert_event.reason
        found = {n.reason for n in self.instances}
        return next(r for r in REASON_ORDER if r in found)

    def summary(self) -> str:
        """`2 firing, 1 resolved` (or the alert's own news when it notifies)."""
        tally = Counter(n.reason for n in self.instances)
        parts = [f"{tally[r]} {REASON_WORDS[r]}" for r in REASON_ORDER if tally[r]]
        if self.told:
            reason = self.alert_event.reason
            parts.insert(0, OWN_WORDS.get(reason, reason.value))
        return ", ".join(parts)

    def to_payload(self) -> dict[str, Any]:
        """The documented webhook JSON, schema version 2 (JSON-safe)."""
        own = self.alert_event.to_payload()
        del own["actual_value"], own["threshold"], own["context"]
        return {
            **own,
            "schema_version": GROUPED_SCHEMA_VERSION,
            "event_id": self.event_id,
            "reason": self.alert_event.reason.value if self.told else None,
            "severity": self.severity.value,
            "alert_event_id": self.alert_event.event_id,
            "key": list(self.key),
            "counts": dict(self.counts),
            "instances": [n.to_payload() for n in self.instances],
        }

    @classmethod
    def from_payload(cls, d: dict[str, Any]) -> GroupedEvent:
        """Inverse of `to_payload`."""
        told = d.get("reason") is not None
        own = {**d, "event_id": d["alert_event_id"], "reason": d.get("reason") or "firing"}
        return cls(
            AlertEvent.from_payload(own),
            told,
            tuple(d["key"]),
            dict(d["counts"]),
            tuple(InstanceNotice.from_payload(n) for n in d["instances"]),
        )


def build_grouped(
    alert: AlertSpec,
    record: RunRecord,
    prev: Previous | None,
    t: Transition,
    decisions: Sequence[InstanceDecision],
    counts: dict[str, int],
) -> GroupedEvent | None:
    """The message of this run for one target (fresh event ids), or None when nothing
    is due: no instance notifies and the alert as a whole does not either."""
    notices = tuple(_notice(alert.name, d) for d in decisions if d.transition.notify)
    if not notices and t.notify is None:
        return None
    reason = t.notify or NotifyReason.FIRING
    own = build_event(alert, record, prev, t, reason=reason, values=False)
    return GroupedEvent(own, t.notify is not None, alert.key, counts, notices)


def _notice(alert: str, d: InstanceDecision) -> InstanceNotice:
    t = d.transition
    assert t.notify is not None
    values = d.row if d.row is not None else d.last
    return InstanceNotice(
        event_id=new_event_id(),
        dedup_key=make_dedup_key(f"{alert}:{d.key}", t.state.value, t.since),
        key=d.key_values,
        instance_key=d.key,
        state=t.state.value,
        previous_state=d.previous.state.value if d.previous else None,
        reason=t.notify,
        actual_value=values.actual_value if values else None,
        threshold=values.threshold if values else None,
        context=dict(values.context) if values else {},
        state_since=t.since,
        severity=t.severity,
        in_result=d.row is not None,
    )


Notification = AlertEvent | GroupedEvent
"""What a channel sends: one alert's event, or a keyed alert's grouped message."""
