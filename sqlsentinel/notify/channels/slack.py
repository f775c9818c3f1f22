"""`channel: slack`: an incoming-webhook message, coloured by state, to the target's own URL."""

from __future__ import annotations

from typing import Any

from sqlsentinel.config.spec import SlackTarget, SmtpSpec
from sqlsentinel.jsonsafe import dumps
from sqlsentinel.notify.channels import SendResult
from sqlsentinel.notify.channels.webhook import EVENT_ID_HEADER, USER_AGENT, http_send
from sqlsentinel.notify.event import AlertEvent, NotifyReason
from sqlsentinel.notify.redact import redact_url
from sqlsentinel.notify.templates import STATE_COLORS, TemplateError, mrkdwn_escape, render_slack


def slack_message(event: AlertEvent, target: SlackTarget) -> dict[str, Any]:
    """The Slack JSON: fallback text plus one attachment coloured by state."""
    test = " (test)" if event.reason is NotifyReason.TEST else ""
    message: dict[str, Any] = {
        "text": mrkdwn_escape(f"[{event.state}] {event.alert}{test}"),
        "attachments": [
            {
                "color": STATE_COLORS.get(event.state, "#808080"),
                "text": render_slack(event, target.body),
                "mrkdwn_in": ["text"],
                "footer": f"SQL Sentinel · event {event.event_id}",
                "ts": int(event.occurred_at.timestamp()),
            }
        ],
    }
    if target.channel:
        message["channel"] = target.channel
    if target.username:
        message["username"] = target.username
    return message


class SlackChannel:
    """Posts to the per-alert `webhook_url`."""

    def send(
        self, event: AlertEvent, target: SlackTarget, *, smtp: SmtpSpec | None, timeout: float
    ) -> SendResult:
        """POST the message once."""
        try:
            body = dumps(slack_message(event, target)).encode()
        except TemplateError as exc:
            return SendResult("permanent", None, "template_error", str(exc))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: event.event_id,
        }
        return http_send("POST", target.webhook_url, body, headers, timeout)

    def preview(
        self, event: AlertEvent, target: SlackTarget, *, smtp: SmtpSpec | None
    ) -> dict[str, Any]:
        """Redacted URL and the message."""
        return {
            "url": redact_url(target.webhook_url, slack=True),
            "body": slack_message(event, target),
        }
