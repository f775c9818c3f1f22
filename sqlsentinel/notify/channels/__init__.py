"""The channel registry: every channel SQL Sentinel knows, by the name `channel:` gives.

Each channel is one module, `sqlsentinel.notify.channels.<name>`, and the single home
of its facts: its options (`<Name>Options`, defaults included), its config model
(`config_model()`, built on demand so sending never imports pydantic), the secrets
its settings carry, how it describes a target, and how it sends. A channel makes
exactly one attempt per `send` call and never sleeps or loops; `notify.deliver`
wraps every channel in the one retry loop. Modules load only when used, so the
webhook path never loads jinja2 or smtplib. A new channel is one module and one
name in CHANNELS.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlsentinel.core.delivery import DeliveryOutcome

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sqlsentinel.core.grouped import Notification
    from sqlsentinel.core.spec import SmtpSpec, TargetSpec

CHANNELS = ("email", "slack", "pagerduty", "webhook")


@dataclass(frozen=True)
class SendResult:
    """The result of one attempt. `detail` never contains a secret."""

    outcome: DeliveryOutcome
    status_code: int | None
    error_class: str | None
    detail: str
    retry_after: float | None = None  # seconds the receiver asked us to wait
    reference: str | None = None  # the provider's id of what it received (e.g. a dedup key)
    excerpt: str = ""  # the start of the answer's body, whitespace folded (no secret)


class Channel(Protocol):
    """What every channel module's `CHANNEL` implements."""

    def send(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None, timeout: float
    ) -> SendResult:
        """Make one delivery attempt."""
        ...

    def preview(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None
    ) -> dict[str, Any]:
        """What `send` would send, with secrets redacted."""
        ...

    def describe(self, target: TargetSpec) -> str:
        """A stable, human-readable, secret-free description of the target."""
        ...

    def secrets(self, target: TargetSpec, smtp: SmtpSpec | None) -> list[str]:
        """Every secret string the target's settings (and SMTP's) carry."""
        ...

    def default_timeout(self, smtp: SmtpSpec | None) -> float:
        """Seconds per attempt when the target sets no `timeout`."""
        ...


def _module(name: str) -> Any:
    if name not in CHANNELS:
        raise KeyError(f"unknown channel {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


def get_channel(name: str) -> Channel:
    """The channel called `name`."""
    channel: Channel = _module(name).CHANNEL
    return channel


def config_models() -> list[type[BaseModel]]:
    """Every channel's config model (imports pydantic: for validation only)."""
    return [_module(name).config_model() for name in CHANNELS]
