"""The versioned payload and its round trip through the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from notify.servers import T0, make_event

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.event import AlertEvent, make_dedup_key, new_event_id
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.core.stale_event import stale_event


def test_payload_fields_are_documented_and_json_safe() -> None:
    payload = make_event().to_payload()
    assert list(payload) == [
        "schema_version", "event_id", "dedup_key", "alert", "description", "state",
        "previous_state", "reason", "severity", "actual_value", "threshold", "context", "error",
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


def test_stale_events_share_the_episode_and_add_two_fields() -> None:
    alert = AlertSpec("orders", "SELECT 1", "0 * * * *", DatabaseSpec("sqlite://"), tags=("shop",))
    tick = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    ran = datetime(2026, 3, 1, 9, 0, 4, tzinfo=UTC)
    row = {"state": "ALERT", "since": ran, "last_run_at": ran, "last_outcome": "alert",
           "last_value": "12.5", "last_threshold": "10", "last_error": None}  # fmt: skip
    stale = stale_event(alert, NotifyReason.STALE, "ep1", tick, row, tick)
    payload = stale.to_payload()
    assert list(payload)[-2:] == ["missed_tick", "last_run_at"]
    assert (payload["missed_tick"], payload["last_run_at"]) == (
        "2026-03-01T10:00:00Z",
        "2026-03-01T09:00:04Z",
    )
    assert (payload["reason"], payload["state"], payload["actual_value"]) == (
        "stale",
        "ALERT",
        12.5,
    )
    assert (payload["run_id"], payload["triggered_by"]) == ("ep1", "DAEMON")
    recovered = stale_event(alert, NotifyReason.RECOVERED, "ep1", tick, row, tick)
    assert recovered.dedup_key == stale.dedup_key == "orders:STALE:2026-03-01T10:00:00Z"
    assert recovered.event_id != stale.event_id
    never = stale_event(alert, NotifyReason.STALE, "ep2", tick, None, tick).to_payload()
    assert (never["state"], never["outcome"], never["last_run_at"]) == (
        "NEVER_RUN",
        "never_run",
        None,
    )
    again = AlertEvent.from_payload(json.loads(json.dumps(payload)))
    assert again.missed_tick == tick and again.to_payload() == payload
    assert "missed_tick" not in make_event().to_payload()  # other reasons keep their shape
