"""`notify-test`: a synthetic event through every target of an alert, or a dry run."""

from __future__ import annotations

import json
from dataclasses import replace

from support import make_target

from sqlsentinel.core.delivery import Attempt
from sqlsentinel.core.event import AlertEvent
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec, SmtpSpec, TargetSpec
from sqlsentinel.notify.synthetic import build_test_event, send_test

from .servers import HookServer, Reply


def alert(*targets: TargetSpec) -> AlertSpec:
    return AlertSpec(
        name="orders_late",
        query="select 'OK' as status",
        schedule="*/5 * * * *",
        database=DatabaseSpec(url="sqlite://"),
        notify=targets,
    )


def test_test_event() -> None:
    event = build_test_event(alert())
    assert isinstance(event, AlertEvent)
    assert (event.reason, event.triggered_by, event.state) == ("test", "TEST", "ALERT")
    assert event.dedup_key.startswith("orders_late:TEST:")


def test_sends_through_every_target_and_reports_each(hook: HookServer) -> None:
    hook.replies = [Reply(200), Reply(403, b"invalid_token")]
    targets = (
        make_target("webhook", url=hook.url("/a")),
        make_target("slack", webhook_url=hook.url("/services/T/B/secret-token")),
        make_target("email", recipients=("ops@x.org",)),
    )
    seen: list[Attempt] = []
    reports = send_test(alert(*targets), None, on_attempt=seen.append)
    assert [(r.channel, r.outcome, r.attempts) for r in reports] == [
        ("webhook", "delivered", 1),
        ("slack", "permanent", 1),
        ("email", "permanent", 1),
    ]
    assert reports[1].detail == "HTTP 403 Forbidden: invalid_token"
    assert "SMTP is not configured" in reports[2].detail
    assert hook.requests[0].json()["reason"] == "test"
    assert len(seen) == 3 and "secret-token" not in str(seen) + str(reports)


def test_dry_run_sends_nothing_and_hides_secrets(hook: HookServer) -> None:
    targets = (
        make_target("webhook", url=hook.url("/a?token=t0ps3cret"), secret="sig-secret"),
        make_target("slack", webhook_url=hook.url("/services/T/B/secret-token"), body="{{ oops"),
    )
    reports = send_test(alert(*targets), None, dry_run=True)
    assert hook.requests == []
    webhook, slack = reports
    assert (webhook.outcome, webhook.attempts) == ("dry_run", 0)
    assert webhook.preview is not None and webhook.preview["body"]["reason"] == "test"
    assert webhook.preview["headers"]["X-SQLSentinel-Signature"] == "sha256=…redacted"
    assert slack.outcome == "permanent" and "custom template" in slack.detail
    shown = json.dumps([r.preview for r in reports]) + str(reports)
    for secret in ("t0ps3cret", "sig-secret", "secret-token"):
        assert secret not in shown


def test_a_keyed_alert_gets_a_grouped_test_message(hook: HookServer) -> None:
    """A receiver of a keyed alert's messages sees the schema its runs send (version 2)."""
    keyed = replace(alert(make_target("webhook", url=hook.url("/k"))), key=("warehouse_id",))
    email = make_target("email", recipients=("ops@x.org",))
    shown = send_test(replace(keyed, notify=(email,)), SmtpSpec("localhost"), dry_run=True)
    assert shown[0].preview is not None
    assert shown[0].preview["subject"] == "[TEST] [ALERT] orders_late: test message, 2 firing"
    [report] = send_test(keyed, None)
    assert report.outcome == "delivered"
    body = hook.requests[0].json()
    assert (body["schema_version"], body["reason"], body["triggered_by"]) == (2, "test", "TEST")
    assert body["key"] == ["warehouse_id"] and body["counts"] == {"ALERT": 2}
    assert [i["key"] for i in body["instances"]] == [
        {"warehouse_id": "example-1"},
        {"warehouse_id": "example-2"},
    ]
