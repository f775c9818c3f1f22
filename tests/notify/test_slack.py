"""The Slack channel against a real HTTP server standing in for hooks.slack.com."""

from __future__ import annotations

import time

from support import make_target

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.delivery import Attempt
from sqlsentinel.core.event import AlertEvent
from sqlsentinel.core.spec import TargetSpec
from sqlsentinel.notify.deliver import deliver

from .servers import HookServer, Reply, make_event

HOOK_PATH = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"


def send(event: AlertEvent, target: TargetSpec, attempts: list[Attempt]) -> str:
    result = deliver(
        event, target, smtp=None, deadline=time.monotonic() + 5, on_attempt=attempts.append
    )
    return result.outcome


def test_uses_the_targets_own_webhook_url(hook: HookServer, attempts: list[Attempt]) -> None:
    other = HookServer()
    try:
        target = make_target(
            "slack", webhook_url=hook.url(HOOK_PATH), slack_channel="#ops", username="sentinel"
        )
        assert send(make_event(), target, attempts) == "delivered"
        assert other.requests == []
        [req] = hook.requests
        assert req.path == HOOK_PATH
        body = req.json()
        assert (body["channel"], body["username"]) == ("#ops", "sentinel")
        assert attempts[0].target.endswith("/services/T000/B000/…redacted #ops")
        assert "XXXXXXXX" not in str(attempts[0])
    finally:
        other.close()


def test_message_is_readable_coloured_and_escaped(
    hook: HookServer, attempts: list[Attempt]
) -> None:
    event = make_event(context={"who": "<!channel> & <@U123>"})
    send(event, make_target("slack", webhook_url=hook.url(HOOK_PATH)), attempts)
    body = hook.requests[0].json()
    assert "channel" not in body and "username" not in body
    assert body["text"] == "[ALERT] orders_late"
    [attachment] = body["attachments"]
    assert attachment["color"] == "#d0312d"
    text = attachment["text"]
    assert text.startswith("*orders_late is firing*")
    assert "Orders stuck in &lt;pending&gt; &amp; unpaid" in text
    assert "*Value:* 12.50 (threshold 10)" in text
    assert "• *who:* &lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "<!channel>" not in text
    assert "*Time:* 2026-03-01T12:30:00+00:00" in text
    assert attachment["ts"] == int(event.occurred_at.timestamp())


def test_colour_follows_the_state(hook: HookServer, attempts: list[Attempt]) -> None:
    target = make_target("slack", webhook_url=hook.url(HOOK_PATH))
    for state, reason in [("OK", NotifyReason.RESOLVED), ("ERROR", NotifyReason.ERROR)]:
        send(make_event(state=state, reason=reason, error="boom"), target, attempts)
    colours = [r.json()["attachments"][0]["color"] for r in hook.requests]
    assert colours == ["#2e9d5b", "#e07b00"]
    assert "*Error:* boom" in hook.requests[1].json()["attachments"][0]["text"]


def test_body_override(hook: HookServer, attempts: list[Attempt]) -> None:
    target = make_target(
        "slack",
        webhook_url=hook.url(HOOK_PATH),
        body="*{{ alert }}* is {{ state }}: {{ context.who }}",
    )
    send(make_event(context={"who": "a<b"}), target, attempts)
    text = hook.requests[0].json()["attachments"][0]["text"]
    assert text == "*orders_late* is ALERT: a&lt;b"


def test_slack_errors_are_reported(hook: HookServer, attempts: list[Attempt]) -> None:
    hook.default = Reply(404, b"channel_not_found")
    assert (
        send(make_event(), make_target("slack", webhook_url=hook.url(HOOK_PATH)), attempts)
        == "permanent"
    )
    assert attempts[0].detail == "HTTP 404 Not Found: channel_not_found"
