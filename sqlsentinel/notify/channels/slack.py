"""`channel: slack`: an incoming-webhook message, coloured by state, to the target's own URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.delivery import DeliveryOutcome
from sqlsentinel.core.spec import DEFAULT_ATTEMPT_TIMEOUT, SmtpSpec, TargetSpec
from sqlsentinel.jsonsafe import dumps
from sqlsentinel.notify.channels import SendResult
from sqlsentinel.notify.http import EVENT_ID_HEADER, IDEMPOTENCY_HEADER, USER_AGENT, http_send
from sqlsentinel.redaction import redact_url, url_secrets

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sqlsentinel.core.grouped import Notification


@dataclass(frozen=True)
class SlackOptions:
    """The options of a Slack target."""

    webhook_url: str
    slack_channel: str | None = None  # Slack channel override, e.g. "#alerts"
    username: str | None = None
    body: str | None = None  # jinja2 template override of the message text (mrkdwn)


def options(target: TargetSpec) -> SlackOptions:
    """The typed options of a Slack target."""
    return SlackOptions(**target.options)


def config_model() -> type[BaseModel]:
    """The pydantic model of a `channel: slack` entry (`webhook` is the original's name)."""
    from typing import Literal

    from pydantic import field_validator, model_validator

    from sqlsentinel.notify.channels.config_base import (
        TargetModel,
        check_http_url,
        check_template,
    )

    class SlackModel(TargetModel):
        """`channel: slack`."""

        channel: Literal["slack"]
        webhook_url: str | None = None
        webhook: str | None = None
        slack_channel: str | None = None
        username: str | None = None
        body: str | None = None

        _body = field_validator("body")(check_template)

        @field_validator("webhook_url", "webhook")
        @classmethod
        def _url(cls, v: str | None) -> str | None:
            return None if v is None else check_http_url(v)

        @model_validator(mode="after")
        def _one_url(self) -> SlackModel:
            if self.webhook_url and self.webhook:
                raise ValueError("give either webhook_url or webhook, not both")
            url = self.webhook_url or self.webhook
            if not url:
                raise ValueError(
                    "a Slack notification needs webhook_url (the incoming-webhook URL)"
                )
            return self.model_copy(update={"webhook_url": url, "webhook": None})

    return SlackModel


def slack_message(event: Notification, target: TargetSpec) -> dict[str, Any]:
    """The Slack JSON: fallback text plus one attachment coloured by state."""
    from sqlsentinel.core.event import AlertEvent
    from sqlsentinel.notify.templates import color, label, mrkdwn_escape, render_slack

    o = options(target)
    test = " (test)" if event.reason is NotifyReason.TEST else ""
    news = "" if isinstance(event, AlertEvent) else f": {event.summary()}"
    message: dict[str, Any] = {
        "text": mrkdwn_escape(f"[{label(event)}] {event.alert}{test}{news}"),
        "attachments": [
            {
                "color": color(event),
                "text": render_slack(event, o.body),
                "mrkdwn_in": ["text"],
                "footer": f"SQL Sentinel · event {event.event_id}",
                "ts": int(event.occurred_at.timestamp()),
            }
        ],
    }
    if o.slack_channel:
        message["channel"] = o.slack_channel
    if o.username:
        message["username"] = o.username
    return message


class SlackChannel:
    """Posts to the per-alert `webhook_url`."""

    def send(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None, timeout: float
    ) -> SendResult:
        """POST the message once."""
        from sqlsentinel.notify.templates import TemplateError

        try:
            body = dumps(slack_message(event, target)).encode()
        except TemplateError as exc:
            return SendResult(DeliveryOutcome.PERMANENT, None, "template_error", str(exc))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: event.event_id,
            IDEMPOTENCY_HEADER: event.event_id,
        }
        return http_send("POST", options(target).webhook_url, body, headers, timeout)

    def preview(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None
    ) -> dict[str, Any]:
        """Redacted URL and the message."""
        return {
            "url": redact_url(options(target).webhook_url, slack=True),
            "body": slack_message(event, target),
        }

    def describe(self, target: TargetSpec) -> str:
        """`slack https://hooks.slack.com/services/T…/B…/…redacted #channel`."""
        o = options(target)
        channel = f" {o.slack_channel}" if o.slack_channel else ""
        return f"slack {redact_url(o.webhook_url, slack=True)}{channel}"

    def secrets(self, target: TargetSpec, smtp: SmtpSpec | None) -> list[str]:
        """The secret parts of the webhook URL."""
        return url_secrets(options(target).webhook_url, slack=True)

    def default_timeout(self, smtp: SmtpSpec | None) -> float:
        """The default per-attempt timeout."""
        return DEFAULT_ATTEMPT_TIMEOUT


CHANNEL = SlackChannel()
