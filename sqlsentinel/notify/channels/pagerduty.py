"""`channel: pagerduty`: PagerDuty Events API v2 (`POST /v2/enqueue`), one incident per
alert (and per instance of a keyed alert), triggered and resolved under one `dedup_key`.

The dedup key is a stable hash of (alert, instance key), the same for every trigger,
repeat, escalation and the resolve of that alert or instance, so PagerDuty folds them
into one incident and closes it. A keyed alert's grouped message becomes one event per
listed instance (each its own incident) plus one for the alert as a whole when its check
failed or works again; a retried message re-sends them all, which PagerDuty deduplicates.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.delivery import DeliveryOutcome
from sqlsentinel.core.event import iso
from sqlsentinel.core.severity import Severity
from sqlsentinel.core.spec import DEFAULT_ATTEMPT_TIMEOUT, SmtpSpec, TargetSpec
from sqlsentinel.digest import digest
from sqlsentinel.jsonsafe import dumps, to_jsonable
from sqlsentinel.notify.channels import SendResult
from sqlsentinel.notify.http import USER_AGENT, Row, codes, http_send
from sqlsentinel.redaction import REDACTED, redact_url, url_secrets

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sqlsentinel.core.event import AlertEvent, Change
    from sqlsentinel.core.grouped import Notification

HOSTS = {"us": "https://events.pagerduty.com", "eu": "https://events.eu.pagerduty.com"}
PATH = "/v2/enqueue"
SUMMARY_LIMIT = 1024  # characters of payload.summary (Events API v2)
CLIENT = "SQL Sentinel"

_D, _R, _P = DeliveryOutcome.DELIVERED, DeliveryOutcome.RETRYABLE, DeliveryOutcome.PERMANENT
TABLE: tuple[Row, ...] = (
    (codes(202), _D, None),  # "Event processed"
    (codes(400), _P, "invalid_event"),  # the event is malformed or the routing key unknown
    (codes(429), _R, "rate_limited"),  # too many events for this routing key
    (codes(500, 599), _R, "http_status"),
)
"""PagerDuty's documented answers (anything else: the default table)."""


@dataclass(frozen=True)
class PagerDutyOptions:
    """The options of a PagerDuty target."""

    routing_key: str  # the integration key of an Events API v2 integration (a secret)
    region: str = "us"  # "eu" for accounts in PagerDuty's EU service region
    url: str | None = None  # another base URL (a proxy, a test server); overrides `region`
    source: str | None = None  # payload.source; default: this host's name
    client_url: str | None = None  # the link PagerDuty shows beside "SQL Sentinel"

    @property
    def endpoint(self) -> str:
        """The enqueue URL."""
        return (self.url or HOSTS[self.region]).rstrip("/") + PATH


def options(target: TargetSpec) -> PagerDutyOptions:
    """The typed options of a PagerDuty target."""
    return PagerDutyOptions(**target.options)


def config_model() -> type[BaseModel]:
    """The pydantic model of a `channel: pagerduty` entry."""
    from typing import Literal

    from pydantic import Field, field_validator

    from sqlsentinel.notify.channels.config_base import TargetModel, check_http_url

    class PagerDutyModel(TargetModel):
        """`channel: pagerduty`."""

        channel: Literal["pagerduty"]
        routing_key: str = Field(min_length=1, pattern=r"^\S+$")
        region: Literal["us", "eu"] | None = None
        url: str | None = None
        source: str | None = Field(default=None, min_length=1)
        client_url: str | None = None

        @field_validator("url", "client_url")
        @classmethod
        def _url(cls, v: str | None) -> str | None:
            return None if v is None else check_http_url(v)

    return PagerDutyModel


def dedup_key(alert: str, instance_key: str = "") -> str:
    """The incident key of an alert (or one instance of it): stable across runs and
    episodes, the same for trigger and resolve."""
    return "sqlsentinel-" + digest(alert.encode(), instance_key.encode(), size=16)


def _action(reason: NotifyReason) -> str:
    return "resolve" if reason in (NotifyReason.RESOLVED, NotifyReason.RECOVERED) else "trigger"


def _details(change: Change, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": change.state,
        "reason": change.reason.value,
        "value": to_jsonable(change.actual_value),
        "threshold": to_jsonable(change.threshold),
        "context": to_jsonable(change.context),
        "event_id": change.event_id,
        **extra,
    }


def _summary(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


@dataclass(frozen=True)
class _Event:
    """One Events API v2 event before the routing key is added."""

    action: str
    key: str
    summary: str
    severity: Severity
    details: dict[str, Any]


def _own_event(event: AlertEvent) -> _Event:
    """The alert as a whole (a plain alert, a keyed alert's check, a stale episode)."""
    reason = event.reason
    if reason in (NotifyReason.STALE, NotifyReason.RECOVERED):
        key, what = dedup_key(event.alert, "\0stale"), "missed a scheduled run"
    elif reason is NotifyReason.TEST:
        key, what = dedup_key(event.alert, "\0test"), "test message from sqlsentinel notify-test"
    else:
        key = dedup_key(event.alert)
        what = event.error or event.description or f"{event.state} ({reason.value})"
    severity = Severity.INFO if reason is NotifyReason.TEST else event.severity
    summary = _summary(f"[{event.state}] {event.alert}: {what}")
    extra = {"tags": list(event.tags), "triggered_by": event.triggered_by}
    return _Event(_action(reason), key, summary, severity, _details(event, extra))


def _events(event: Notification) -> list[_Event]:
    """Every PagerDuty event `event` makes, in order."""
    from sqlsentinel.core.event import AlertEvent

    if isinstance(event, AlertEvent):
        return [_own_event(event)]
    if event.reason is NotifyReason.TEST:  # one test incident, not one per sample row
        return [_own_event(event.alert_event)]
    out = [_own_event(event.alert_event)] if event.told else []
    for n in event.instances:
        shown = ", ".join(f"{k}={v}" for k, v in n.key.items())
        summary = _summary(f"[{n.state}] {event.alert} {shown}: {n.reason.value}")
        extra = {"key": to_jsonable(n.key), "instance_key": n.instance_key}
        key = dedup_key(event.alert, n.instance_key)
        out.append(_Event(_action(n.reason), key, summary, n.severity, _details(n, extra)))
    return out


def _body(e: _Event, event: Notification, o: PagerDutyOptions, routing_key: str) -> dict[str, Any]:
    """The JSON of one event (a resolve carries only what PagerDuty reads of it)."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": e.action,
        "dedup_key": e.key,
    }
    if e.action == "resolve":
        return body
    body["payload"] = {
        "summary": e.summary,
        "source": o.source or socket.gethostname(),
        "severity": e.severity.value,  # PagerDuty's four: info, warning, error, critical
        "timestamp": iso(event.occurred_at),
        "component": event.alert,
        "class": "sqlsentinel",
        "custom_details": e.details,
    }
    body["client"] = CLIENT
    if o.client_url:
        body["client_url"] = o.client_url
    return body


class PagerDutyChannel:
    """Enqueues the events of a notification."""

    def send(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None, timeout: float
    ) -> SendResult:
        """POST each event once, in order; the first that is not delivered ends the attempt."""
        o = options(target)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        end = time.monotonic() + timeout
        result = SendResult(_D, None, None, "no events")
        keys: list[str] = []
        for e in _events(event):
            body = dumps(_body(e, event, o, o.routing_key)).encode()
            left = max(0.05, end - time.monotonic())
            result = http_send("POST", o.endpoint, body, headers, left, table=TABLE,
                               reference=("dedup_key",))  # fmt: skip
            if result.outcome is not _D:
                return result
            keys.append(result.reference or e.key)
        more = f" (+{len(keys) - 1} more)" if len(keys) > 1 else ""
        reference = f"{keys[0]}{more}" if keys else None
        detail = f"{result.detail}, {len(keys)} events" if len(keys) > 1 else result.detail
        return SendResult(_D, result.status_code, None, detail, None, reference, result.excerpt)

    def preview(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None
    ) -> dict[str, Any]:
        """The URL and every event, the routing key redacted."""
        o = options(target)
        events = [_body(e, event, o, REDACTED) for e in _events(event)]
        return {"url": redact_url(o.endpoint), "events": events}

    def describe(self, target: TargetSpec) -> str:
        """`pagerduty https://events.pagerduty.com/v2/enqueue`."""
        return f"pagerduty {redact_url(options(target).endpoint)}"

    def secrets(self, target: TargetSpec, smtp: SmtpSpec | None) -> list[str]:
        """The routing key (and any secret in a configured URL)."""
        o = options(target)
        return [o.routing_key, *url_secrets(o.endpoint)]

    def default_timeout(self, smtp: SmtpSpec | None) -> float:
        """The default per-attempt timeout."""
        return DEFAULT_ATTEMPT_TIMEOUT


CHANNEL = PagerDutyChannel()
