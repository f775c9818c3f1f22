"""`channel: webhook`: the versioned JSON payload, optionally HMAC-signed (docs/webhook.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.spec import DEFAULT_ATTEMPT_TIMEOUT, SmtpSpec, TargetSpec
from sqlsentinel.jsonsafe import dumps
from sqlsentinel.notify.channels import SendResult
from sqlsentinel.notify.http import EVENT_ID_HEADER, IDEMPOTENCY_HEADER, USER_AGENT, http_send
from sqlsentinel.redaction import REDACTED, header_secrets, redact_headers, redact_url, url_secrets

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sqlsentinel.core.grouped import Notification

METHODS = ("POST", "PUT", "PATCH", "GET")
TIMESTAMP_HEADER = "X-SQLSentinel-Timestamp"
SIGNATURE_HEADER = "X-SQLSentinel-Signature"


@dataclass(frozen=True)
class WebhookOptions:
    """The options of a webhook target (JSON built from data, never from a text template)."""

    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    secret: str | None = None  # HMAC-SHA256 signing key


def options(target: TargetSpec) -> WebhookOptions:
    """The typed options of a webhook target."""
    return WebhookOptions(**target.options)


def config_model() -> type[BaseModel]:
    """The pydantic model of a `channel: webhook` entry."""
    from typing import Literal

    from pydantic import Field, field_validator

    from sqlsentinel.notify.channels.config_base import TargetModel, check_headers, check_http_url

    class WebhookModel(TargetModel):
        """`channel: webhook`."""

        channel: Literal["webhook"]
        url: str
        method: str | None = None
        headers: dict[str, str] | None = None
        secret: str | None = Field(default=None, min_length=1)

        _url = field_validator("url")(check_http_url)
        _headers = field_validator("headers")(check_headers)

        @field_validator("method")
        @classmethod
        def _method(cls, v: str | None) -> str | None:
            if v is not None and v.upper() not in METHODS:
                raise ValueError(f"{v!r} is not one of {', '.join(METHODS)}")
            return v.upper() if v else v

    return WebhookModel


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`.

    hashlib and hmac load OpenSSL (milliseconds and MiB), so only a signed webhook pays.
    """
    import hashlib
    import hmac

    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _base_headers(event: Notification) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event.event_id,
        IDEMPOTENCY_HEADER: event.event_id,
    }


class WebhookChannel:
    """POSTs (or the configured method) the payload."""

    def send(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None, timeout: float
    ) -> SendResult:
        """Send the payload once."""
        o = options(target)
        body = dumps(event.to_payload()).encode()
        headers = {**_base_headers(event), **dict(o.headers)}
        if o.secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(o.secret, timestamp, body)
        return http_send(o.method, o.url, body, headers, timeout)

    def preview(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None
    ) -> dict[str, Any]:
        """Method, redacted URL and headers, and the payload."""
        o = options(target)
        headers = {**_base_headers(event), **redact_headers(o.headers.items())}
        if o.secret:
            headers[TIMESTAMP_HEADER] = "<unix seconds at send time>"
            headers[SIGNATURE_HEADER] = f"sha256={REDACTED}"
        return {
            "method": o.method,
            "url": redact_url(o.url),
            "headers": headers,
            "body": event.to_payload(),
        }

    def describe(self, target: TargetSpec) -> str:
        """`webhook POST https://…/hook`."""
        o = options(target)
        return f"webhook {o.method} {redact_url(o.url)}"

    def secrets(self, target: TargetSpec, smtp: SmtpSpec | None) -> list[str]:
        """URL secrets, header values (and the credentials in them) and the signing secret."""
        o = options(target)
        return [*url_secrets(o.url), *header_secrets(o.headers.items()), o.secret or ""]

    def default_timeout(self, smtp: SmtpSpec | None) -> float:
        """The default per-attempt timeout."""
        return DEFAULT_ATTEMPT_TIMEOUT


CHANNEL = WebhookChannel()
