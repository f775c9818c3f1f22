"""The grouped message of a keyed alert: payload schema version 2, ids, and its round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlsentinel.core.decide import NotifyReason, Previous, Reason, Rule, State, Transition
from sqlsentinel.core.event import GROUPED_SCHEMA_VERSION, PAYLOAD_SCHEMA_VERSION
from sqlsentinel.core.grouped import GroupedEvent, build_grouped
from sqlsentinel.core.instances import Instance, Known, decide_instances, instance_key
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALERT = AlertSpec("late", "SELECT 1", "* * * * *", DatabaseSpec("sqlite://"), key=("id",))
RECORD = RunRecord("run-1", "late", "CRON", None, None, T0, T0, "alert", "alert", instances=())


def grouped(told: Transition | None = None) -> GroupedEvent:
    prev = Previous(State.ALERT, T0, T0, T0, State.ALERT, False)
    before = {instance_key([2]): Known({"id": 2}, prev, 30, 10, {"region": "us"})}
    rows = [Instance(instance_key([1]), {"id": 1}, "alert", 12, 10, {"region": "eu"})]
    decisions = decide_instances(before, rows, Rule(), lambda k: False, "resolve", T0)
    t = told or Transition(State.ALERT, T0, None, Reason.FIRING, None, False)
    event = build_grouped(ALERT, RECORD, None, t, decisions, {"ALERT": 1, "PENDING": 0, "OK": 0})
    assert event is not None
    return event


def test_payload_lists_each_instance_with_its_own_ids() -> None:
    payload = grouped().to_payload()
    json.dumps(payload, allow_nan=False)
    assert payload["schema_version"] == GROUPED_SCHEMA_VERSION == PAYLOAD_SCHEMA_VERSION + 1
    assert payload["key"] == ["id"] and payload["reason"] is None
    assert payload["counts"] == {"ALERT": 1, "PENDING": 0, "OK": 0}
    firing, resolved = payload["instances"]
    assert (firing["key"], firing["reason"], firing["state"]) == ({"id": 1}, "firing", "ALERT")
    assert [firing[k] for k in ("actual_value", "threshold", "context")] == [
        12,
        10,
        {"region": "eu"},
    ]
    assert firing["dedup_key"] == 'late:["1"]:ALERT:2026-03-01T12:00:00Z' and firing["in_result"]
    assert (resolved["reason"], resolved["previous_state"], resolved["in_result"]) == (
        "resolved", "ALERT", False)  # fmt: skip
    assert resolved["actual_value"] == 30  # the last values it had
    assert len({firing["event_id"], resolved["event_id"], payload["event_id"]}) == 3
    assert "actual_value" not in payload and "context" not in payload


def test_the_message_id_is_derived_from_the_instance_ids() -> None:
    event = grouped()
    again = GroupedEvent.from_payload(json.loads(json.dumps(event.to_payload())))
    assert again.to_payload() == event.to_payload()
    assert again.event_id == event.event_id
    assert grouped().event_id != event.event_id  # other instance ids, another message


def test_summary_and_reason() -> None:
    event = grouped()
    assert event.summary() == "1 firing, 1 resolved"
    assert event.reason is NotifyReason.FIRING
    failed = grouped(Transition(State.ERROR, T0, None, Reason.ERROR, NotifyReason.ERROR, False))
    assert failed.told and failed.reason is NotifyReason.ERROR
    assert failed.summary() == "the check failed, 1 firing, 1 resolved"
    assert failed.to_payload()["reason"] == "error"


def test_nothing_due_is_no_message() -> None:
    quiet = Transition(State.OK, T0, None, Reason.STILL_OK, None, False)
    assert build_grouped(ALERT, RECORD, None, quiet, [], {}) is None


def test_every_field_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhook.md").read_text()
    section = doc[doc.index("## Per-row alerts: schema version 2") :]
    payload = grouped().to_payload()
    fields = [*payload, *payload["instances"][0]]
    missing = [k for k in fields if f"`{k}`" not in section and f"`instances[].{k}`" not in section]
    assert missing == []
