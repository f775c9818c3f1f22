"""The one delivery loop: timeout, retries with backoff and jitter, Retry-After, attempt records.

Channels make single attempts; this module decides whether and when to try
again, always inside the caller's deadline: each attempt gets at most
min(its timeout, the time left) in total (`deadline.bounded`), so a run ends by its
deadline whatever a receiver does. It reports every attempt, timed out or not, through
`on_attempt` (the state database turns them into delivery rows). What is still
`retryable` when the loop stops is retried by the next run (from the outbox).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.delivery import Attempt, DeliveryOutcome
from sqlsentinel.core.run import Clock, utc_now
from sqlsentinel.core.spec import SmtpSpec, TargetSpec
from sqlsentinel.errors import SentinelError
from sqlsentinel.notify.channels import SendResult, get_channel
from sqlsentinel.notify.deadline import bounded
from sqlsentinel.redaction import redact

if TYPE_CHECKING:
    from sqlsentinel.core.grouped import Notification

BACKOFF_BASE = 1.0  # seconds; the n-th retry waits uniform(0, min(cap, base * 2**(n-1)))
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 120.0  # a longer Retry-After ends this run's attempts; the next run retries
MIN_ATTEMPT_TIME = 0.2  # seconds: no attempt starts with less time than this left

RETRYABLE = DeliveryOutcome.RETRYABLE
log = logging.getLogger("sqlsentinel.notify")


@dataclass(frozen=True)
class DeliveryResult:
    """How delivery to one target ended in this run."""

    outcome: DeliveryOutcome
    attempts: int
    detail: str


def describe_target(target: TargetSpec) -> str:
    """A stable, human-readable, secret-free description, e.g. `webhook POST https://…/hook`."""
    return get_channel(target.channel).describe(target)


def secrets_of(target: TargetSpec, smtp: SmtpSpec | None) -> list[str]:
    """Every secret string a target (and the SMTP settings) could leak, for `redact`."""
    return get_channel(target.channel).secrets(target, smtp)


def backoff(retry: int, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff before the `retry`-th retry (1-based)."""
    return rng() * min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (retry - 1))


@dataclass(frozen=True)
class _Sender:
    """One target's attempts: announce, send once, redact, record and log."""

    event: Notification
    target: TargetSpec
    smtp: SmtpSpec | None
    on_attempt: Callable[[Attempt], None]
    on_start: Callable[[Attempt], None] | None
    clock: Callable[[], float]
    wall: Clock

    def attempt(self, number: int, timeout: float) -> tuple[SendResult, str]:
        """Make attempt `number`; returns the result and its secret-free detail."""
        channel = get_channel(self.target.channel)
        started_at, start = self.wall(), self.clock()
        record = Attempt(
            event_id=self.event.event_id,
            alert=self.event.alert,
            channel=self.target.channel,
            target=channel.describe(self.target),
            attempt=number,
            started_at=started_at,
        )
        if self.on_start is not None:  # the attempt is on record before anything is sent
            self.on_start(record)
        try:
            result = bounded(
                lambda: channel.send(self.event, self.target, smtp=self.smtp, timeout=timeout),
                timeout,
            )
        except Exception as exc:  # a channel bug must not lose the message
            why = f"{type(exc).__name__}: {exc}"
            result = SendResult(DeliveryOutcome.RETRYABLE, None, "internal_error", why)
        detail = redact(result.detail, channel.secrets(self.target, self.smtp))
        record = replace(
            record,
            outcome=result.outcome,
            status_code=result.status_code,
            error_class=result.error_class,
            detail=detail,
            latency_ms=round((self.clock() - start) * 1000, 1),
            retry_after=result.retry_after,
            reference=result.reference,
            excerpt=redact(result.excerpt, channel.secrets(self.target, self.smtp)),
        )
        self.on_attempt(record)
        log.info(
            "notification attempt %s %s #%d: %s (%s)",
            record.alert, record.target, number, record.outcome, detail,
        )  # fmt: skip
        return result, detail


def deliver(
    event: Notification,
    target: TargetSpec,
    *,
    smtp: SmtpSpec | None,
    deadline: float,
    on_attempt: Callable[[Attempt], None],
    on_start: Callable[[Attempt], None] | None = None,
    first_attempt: int = 1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    wall: Clock = utc_now,
) -> DeliveryResult:
    """Deliver `event` to `target`, retrying transient failures until `deadline` (monotonic).

    `on_start` hears of each attempt before it is made, `on_attempt` after it ended;
    `wall` stamps when each started.
    """
    sender = _Sender(event, target, smtp, on_attempt, on_start, clock, wall)
    per_attempt = target.timeout or get_channel(target.channel).default_timeout(smtp)
    detail, made = "", 0
    while made < target.max_attempts:
        remaining = deadline - clock()
        if remaining < MIN_ATTEMPT_TIME:
            break
        result, detail = sender.attempt(first_attempt + made, min(per_attempt, remaining))
        made += 1
        if result.outcome is not RETRYABLE:
            return DeliveryResult(result.outcome, made, detail)
        if made == target.max_attempts:
            return DeliveryResult(RETRYABLE, made, f"{detail} (gave up after {made} attempts)")
        wait = result.retry_after if result.retry_after is not None else backoff(made, rng)
        if wait > RETRY_AFTER_CAP or clock() + wait + MIN_ATTEMPT_TIME > deadline:
            why = "longer than the cap" if wait > RETRY_AFTER_CAP else "past the deadline"
            detail = f"{detail} (next try in {wait:.1f} s is {why})"
            return DeliveryResult(RETRYABLE, made, detail)
        sleep(wait)
    left = "no time left in this run"
    return DeliveryResult(RETRYABLE, made, f"{detail} ({left})" if made else left)


def preview(event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None) -> dict[str, Any]:
    """What would be sent to `target`, secrets redacted (for `--dry-run`)."""
    channel = get_channel(target.channel)
    head = {"channel": target.channel, "target": channel.describe(target)}
    try:
        return {**head, **channel.preview(event, target, smtp=smtp)}
    except SentinelError as exc:
        return {**head, "error": redact(str(exc), secrets_of(target, smtp))}
