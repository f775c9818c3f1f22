"""The versioned payload and its round trip through the outbox."""

from __future__ import annotations

import json

from notify.servers import T0, make_event

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.event import AlertEvent, make_dedup_key, new_event_id


def test_payload_fields_are_documented_and_json_safe() -> None:
    payload = make_event().to_payload()
    assert list(payload) == [
        "schema_version", "event_id", "dedup_key", "alert", "description", "state",
        "previous_state", "reason", "actual_value", "threshold", "context", "error",
        "outcome", "occurred_at", "state_since", "tags", "triggered_by", "run_id",
    ]  # fmt: skip
    json.dumps(payload, allow_nan=False)
    assert payload["context"]["raw"] == "AP9oaQ=="


def test_round_trip_through_the_payload() -> None:
    event = make_event(reason=NotifyReason.REPEAT, error="x")
    again = AlertEvent.from_payload(json.loads(json.dumps(event.to_payload())))
    assert again.to_payload() == event.to_payload()
    assert again.occurred_at == event.occurred_at and again.occurred_at.tzinfo is not None
    assert again.reason is NotifyReason.REPEAT
    assert again.tags == ("shop",)


def test_ids() -> None:
    assert new_event_id() != new_event_id() and len(new_event_id()) == 32
    assert make_dedup_key("a", "ALERT", T0) == "a:ALERT:2026-03-01T12:30:00Z"
