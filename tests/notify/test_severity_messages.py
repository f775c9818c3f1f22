"""What messages say of severity: the label in subjects and Slack's fallback text, the
grouped table's column, and the alert's own severity on the events no run decides
(`notify-test`, `stale`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from notify.servers import make_event
from sqlsentinel.core.decide import NotifyReason, Rule, State, Transition
from sqlsentinel.core.event import AlertEvent
from sqlsentinel.core.grouped import GroupedEvent, build_grouped
from sqlsentinel.core.instances import Instance, decide_instances, instance_key
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.severity import Severity
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.core.stale_event import stale_event
from sqlsentinel.notify.grouped_vars import instance_table
from sqlsentinel.notify.synthetic import build_test_event
from sqlsentinel.notify.templates import label, render_email, render_slack

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DB = DatabaseSpec("sqlite://")


def test_the_label_names_every_severity_but_the_default() -> None:
    assert label(make_event()) == "ALERT"  # error: subjects as they always were
    assert label(make_event(severity=Severity.CRITICAL)) == "ALERT critical"
    stale = make_event(severity=Severity.INFO, reason=NotifyReason.STALE)
    assert label(stale) == "STALE info"
    escalated = make_event(severity=Severity.CRITICAL, reason=NotifyReason.ESCALATED)
    subject, text, html = render_email(escalated, None, None)
    assert subject == "[ALERT critical] orders_late escalated to critical"
    assert "Severity:    critical" in text and ">critical</td>" in html
    assert "*Severity:* critical" in render_slack(escalated, None)


def grouped(severities: list[Severity | None]) -> GroupedEvent:
    alert = AlertSpec("late", "SELECT 1", "* * * * *", DB, key=("id",))
    rows = [Instance(instance_key([i]), {"id": i}, "alert", severity=s)
            for i, s in enumerate(severities)]  # fmt: skip
    decisions = decide_instances({}, rows, Rule(), lambda k: False, "resolve", T0)
    record = RunRecord("r", "late", "CRON", None, None, T0, T0, "alert", "alert", instances=())
    t = Transition(State.ALERT, T0, None, decisions[0].transition.reason, None, False)
    event = build_grouped(alert, record, None, t, decisions, {"ALERT": len(rows)})
    assert event is not None
    return event


def test_the_grouped_table_shows_severity_only_when_one_is_not_the_default() -> None:
    plain = grouped([None, None])
    assert "severity" not in instance_table(plain, 50)[0] and plain.severity is Severity.ERROR
    loud = grouped([Severity.INFO, Severity.CRITICAL])
    columns, rows = instance_table(loud, 50)
    assert columns[:3] == ["id", "change", "severity"]
    assert [r[2] for r in rows] == ["info", "critical"]
    assert loud.severity is Severity.CRITICAL and loud.to_payload()["severity"] == "critical"
    assert label(loud) == "ALERT critical"


def test_events_no_run_decides_carry_the_alerts_severity() -> None:
    alert = AlertSpec("orders", "SELECT 1", "0 * * * *", DB, severity=Severity.WARNING)
    assert build_test_event(alert).to_payload()["severity"] == "warning"
    keyed = build_test_event(replace(alert, key=("id",))).to_payload()
    assert {i["severity"] for i in keyed["instances"]} == {"warning"}
    stale = stale_event(alert, NotifyReason.STALE, "ep", T0, None, T0)
    assert stale.to_payload()["severity"] == "warning"


def test_a_payload_queued_before_severities_reads_as_error() -> None:
    payload = make_event().to_payload()
    del payload["severity"]
    assert AlertEvent.from_payload(payload).severity is Severity.ERROR
