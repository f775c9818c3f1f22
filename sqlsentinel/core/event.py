"""The event a notification carries, and its versioned JSON payload (docs/webhook.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlsentinel.core.decide import NotifyReason, Previous, Transition
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.severity import Severity
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.jsonsafe import to_jsonable

PAYLOAD_SCHEMA_VERSION = 1  # one alert, one row
GROUPED_SCHEMA_VERSION = 2  # a keyed alert's grouped message (core/grouped.py)


def new_event_id() -> str:
    """A fresh event id (uuid4 hex): one per notification, kept across retries."""
    return uuid.uuid4().hex


def make_dedup_key(alert: str, state: str, state_since: datetime) -> str:
    """The key of one episode: receivers deduplicate on it."""
    return f"{alert}:{state}:{iso(state_since)}"


def iso(t: datetime) -> str:
    """An instant as ISO 8601 UTC with a `Z`."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True, kw_only=True)
class Change:
    """What one notification says changed (of an alert, or of one instance of a keyed
    alert), and the values that showed it. Built by keyword."""

    event_id: str
    dedup_key: str
    state: str
    previous_state: str | None
    reason: NotifyReason
    actual_value: Any
    threshold: Any
    context: dict[str, Any]
    state_since: datetime
    severity: Severity = Severity.ERROR  # a resolve carries the severity of its episode

    def _change_payload(self) -> dict[str, Any]:
        """The payload's fields of the change (JSON-safe), in their documented order."""
        return {
            "state": self.state,
            "previous_state": self.previous_state,
            "reason": self.reason.value,
            "severity": self.severity.value,
            "actual_value": to_jsonable(self.actual_value),
            "threshold": to_jsonable(self.threshold),
            "context": to_jsonable(self.context),
        }


def change_fields(d: dict[str, Any]) -> dict[str, Any]:
    """The `Change` fields of a payload (values stay in their JSON form)."""
    return {
        "event_id": d["event_id"],
        "dedup_key": d["dedup_key"],
        "state": d["state"],
        "previous_state": d.get("previous_state"),
        "reason": NotifyReason(d["reason"]),
        "actual_value": d.get("actual_value"),
        "threshold": d.get("threshold"),
        "context": dict(d.get("context") or {}),
        "state_since": datetime.fromisoformat(d["state_since"]),
        "severity": Severity(d.get("severity") or Severity.ERROR),  # queued before severities
    }


@dataclass(frozen=True, kw_only=True)
class AlertEvent(Change):
    """One notification of one alert, independent of the channel that carries it."""

    alert: str
    description: str | None
    error: str | None
    outcome: str
    occurred_at: datetime
    tags: tuple[str, ...]
    triggered_by: str
    run_id: str
    missed_tick: datetime | None = None  # stale/recovered: the scheduled run that was missed
    last_run_at: datetime | None = None  # stale/recovered: the alert's last recorded run then

    def to_payload(self) -> dict[str, Any]:
        """The documented, versioned webhook JSON (JSON-safe)."""
        return {
            "schema_version": PAYLOAD_SCHEMA_VERSION,
            "event_id": self.event_id,
            "dedup_key": self.dedup_key,
            "alert": self.alert,
            "description": self.description,
            **self._change_payload(),
            "error": self.error,
            "outcome": self.outcome,
            "occurred_at": iso(self.occurred_at),
            "state_since": iso(self.state_since),
            "tags": list(self.tags),
            "triggered_by": self.triggered_by,
            "run_id": self.run_id,
            **self._missed_fields(),
        }

    def _missed_fields(self) -> dict[str, Any]:
        """`missed_tick` and `last_run_at`, only in `stale` and `recovered` payloads."""
        if self.missed_tick is None:
            return {}
        last = None if self.last_run_at is None else iso(self.last_run_at)
        return {"missed_tick": iso(self.missed_tick), "last_run_at": last}

    @classmethod
    def from_payload(cls, d: dict[str, Any]) -> AlertEvent:
        """Re-create an event from `to_payload` output (values stay in their JSON form)."""
        return cls(
            **change_fields(d),
            alert=d["alert"],
            description=d.get("description"),
            error=d.get("error"),
            outcome=d["outcome"],
            occurred_at=datetime.fromisoformat(d["occurred_at"]),
            tags=tuple(d.get("tags") or ()),
            triggered_by=d["triggered_by"],
            run_id=d["run_id"],
            missed_tick=_time(d.get("missed_tick")),
            last_run_at=_time(d.get("last_run_at")),
        )


def build_event(
    alert: AlertSpec,
    record: RunRecord,
    prev: Previous | None,
    t: Transition,
    *,
    reason: NotifyReason | None = None,
    values: bool = True,
) -> AlertEvent:
    """The notification event for transition `t` of this run (a fresh event id). `reason`
    defaults to the transition's; without `values` the event leaves out what the query
    found (a keyed alert's grouped message carries that per instance)."""
    reason = reason or t.notify
    assert reason is not None
    return AlertEvent(
        event_id=new_event_id(),
        dedup_key=make_dedup_key(alert.name, t.state.value, t.since),
        alert=alert.name,
        description=alert.description,
        state=t.state.value,
        previous_state=prev.state.value if prev else None,
        reason=reason,
        actual_value=record.actual_value if values else None,
        threshold=record.threshold if values else None,
        context=(record.context or {}) if values else {},
        error=record.error,
        outcome=record.outcome,
        occurred_at=record.finished_at,
        state_since=t.since,
        severity=t.severity,
        tags=alert.tags,
        triggered_by=record.triggered_by,
        run_id=record.run_id,
    )
