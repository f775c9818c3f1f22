"""What travels between the outbox, the retry loop and the run: typed rows, named values.

A notification's `NotificationStatus` is where its outbox row stands; an attempt's
`DeliveryOutcome` is how one try ended (channels report it, `notify.deliver` decides
what follows). `Claim` is an outbox row a process claimed, `Attempt` one try as the
delivery log records it, `NotificationResult` where a claimed notification stands after
this run. Attempts are built by keyword, so a field a channel learns to report is one
more keyword with a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class NotificationStatus(StrEnum):
    """Where an outbox row stands (`notifications.status`)."""

    PENDING = "pending"  # not delivered yet: the next run (or the stale check) tries again
    DELIVERED = "delivered"
    FAILED = "failed"  # the receiver refused it for good
    SUPERSEDED = "superseded"  # a newer notification to the same target carries the news
    ABANDONED = "abandoned"  # its target left the config


class DeliveryOutcome(StrEnum):
    """How one attempt ended (`deliveries.outcome`)."""

    SENDING = "sending"  # on record before it is made; replaced when it ends
    DELIVERED = "delivered"
    RETRYABLE = "retryable"  # try again (backoff, Retry-After, the next run)
    PERMANENT = "permanent"  # trying again cannot help

    @property
    def status(self) -> NotificationStatus:
        """Where the notification stands when its last attempt of a run ended so."""
        if self is DeliveryOutcome.DELIVERED:
            return NotificationStatus.DELIVERED
        if self is DeliveryOutcome.PERMANENT:
            return NotificationStatus.FAILED
        return NotificationStatus.PENDING


@dataclass(frozen=True)
class Claim:
    """An outbox row this process claimed for delivery."""

    event_id: str
    alert: str
    channel: str
    target: str  # the target's secret-free description
    target_index: int  # its position in the alert's `notify:` when it was queued
    reason: str
    payload: str  # the event's JSON
    attempts: int  # attempts already made (by earlier runs)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Claim:
        """The claim of a `notifications` row."""
        return cls(
            event_id=row["event_id"],
            alert=row["alert"],
            channel=row["channel"],
            target=row["target"],
            target_index=int(row["target_index"]),
            reason=row["reason"],
            payload=row["payload"],
            attempts=int(row["attempts"]),
        )


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One delivery attempt, as the delivery log records it. No field holds a secret."""

    event_id: str
    alert: str
    channel: str
    target: str
    attempt: int
    started_at: datetime
    outcome: DeliveryOutcome = DeliveryOutcome.SENDING
    status_code: int | None = None
    error_class: str | None = None
    detail: str = ""
    latency_ms: float = 0.0
    retry_after: float | None = None  # seconds the receiver asked for (header or body)
    reference: str | None = None  # the provider's reference (dedup key, request or message id)
    excerpt: str = ""  # the start of the receiver's answer


@dataclass(frozen=True)
class NotificationResult:
    """Where one claimed notification stands after this run's attempts."""

    event_id: str
    channel: str
    target: str
    reason: str
    outcome: NotificationStatus
    attempts: int  # made in this run
    detail: str

    @classmethod
    def of(
        cls, claim: Claim, outcome: NotificationStatus, attempts: int, detail: str
    ) -> NotificationResult:
        """The result of delivering `claim`."""
        return cls(claim.event_id, claim.channel, claim.target, claim.reason, outcome,
                   attempts, detail)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """As `run --json` shows it."""
        return {**vars(self), "outcome": self.outcome.value}
