"""Channel registry: `channel:` name → class. A new channel is one module and one line here.

A channel makes exactly one attempt per `send` call and never sleeps or loops;
`sqlsentinel.notify.deliver` wraps every channel in the one retry loop.
Modules are imported only when their channel is used, so the webhook path never
loads jinja2 or smtplib.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sqlsentinel.config.spec import NotifyTarget, SmtpSpec
    from sqlsentinel.notify.event import AlertEvent

Outcome = Literal["delivered", "retryable", "permanent"]

_REGISTRY: dict[str, str] = {
    "email": "sqlsentinel.notify.channels.email:EmailChannel",
    "slack": "sqlsentinel.notify.channels.slack:SlackChannel",
    "webhook": "sqlsentinel.notify.channels.webhook:WebhookChannel",
}


@dataclass(frozen=True)
class SendResult:
    """The result of one attempt. `detail` never contains a secret."""

    outcome: Outcome
    status_code: int | None
    error_class: str | None
    detail: str
    retry_after: float | None = None  # seconds the receiver asked us to wait


class Channel(Protocol):
    """What every channel implements."""

    def send(
        self, event: AlertEvent, target: Any, *, smtp: SmtpSpec | None, timeout: float
    ) -> SendResult:
        """Make one delivery attempt."""
        ...

    def preview(self, event: AlertEvent, target: Any, *, smtp: SmtpSpec | None) -> dict[str, Any]:
        """What `send` would send, with secrets redacted."""
        ...


def channel_names() -> tuple[str, ...]:
    """Every registered channel name."""
    return tuple(_REGISTRY)


def get_channel(target: NotifyTarget) -> Channel:
    """The channel that sends to `target`."""
    module, _, name = _REGISTRY[target.kind].partition(":")
    cls: type[Channel] = getattr(importlib.import_module(module), name)
    return cls()
