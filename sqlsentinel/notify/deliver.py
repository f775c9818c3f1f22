"""The one delivery loop: timeout, retries with backoff and jitter, Retry-After, attempt records.

Channels make single attempts; this module decides whether and when to try
again, always inside the caller's deadline, and reports every attempt through
`on_attempt` (the state database turns them into delivery rows). What is still
`retryable` when the loop stops is retried by the next run (from the outbox).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlsentinel.config.spec import EmailTarget, NotifyTarget, SlackTarget, SmtpSpec
from sqlsentinel.errors import SentinelError
from sqlsentinel.notify.channels import Outcome, SendResult, get_channel
from sqlsentinel.notify.event import AlertEvent
from sqlsentinel.notify.redact import redact_url, scrub, secrets_of

DEFAULT_TIMEOUT = 10.0  # seconds per attempt (email: the smtp block's timeout)
DEFAULT_MAX_ATTEMPTS = 4  # attempts per target per run
BACKOFF_BASE = 1.0  # seconds; the n-th retry waits uniform(0, min(cap, base * 2**(n-1)))
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 120.0  # a longer Retry-After ends this run's attempts; the next run retries
MIN_ATTEMPT_TIME = 0.2  # seconds: no attempt starts with less time than this left

log = logging.getLogger("sqlsentinel.notify")


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt, as recorded in the state database. No field holds a secret."""

    event_id: str
    alert: str
    channel: str
    target: str
    attempt: int
    outcome: str
    status_code: int | None
    error_class: str | None
    detail: str
    latency_ms: float
    started_at: datetime


@dataclass(frozen=True)
class DeliveryResult:
    """How delivery to one target ended in this run."""

    outcome: Outcome
    attempts: int
    detail: str


def describe_target(target: NotifyTarget) -> str:
    """A stable, human-readable, secret-free description, e.g. `webhook POST https://…/hook`."""
    if isinstance(target, EmailTarget):
        return "email " + ", ".join(target.recipients)
    if isinstance(target, SlackTarget):
        channel = f" {target.channel}" if target.channel else ""
        return f"slack {redact_url(target.webhook_url, slack=True)}{channel}"
    return f"webhook {target.method} {redact_url(target.url)}"


def backoff(retry: int, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff before the `retry`-th retry (1-based)."""
    return rng() * min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (retry - 1))


def _attempt_timeout(target: NotifyTarget, smtp: SmtpSpec | None) -> float:
    if target.timeout:
        return target.timeout
    if isinstance(target, EmailTarget) and smtp is not None:
        return smtp.timeout
    return DEFAULT_TIMEOUT


def deliver(
    event: AlertEvent,
    target: NotifyTarget,
    *,
    smtp: SmtpSpec | None,
    deadline: float,
    on_attempt: Callable[[Attempt], None],
    first_attempt: int = 1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> DeliveryResult:
    """Deliver `event` to `target`, retrying transient failures until `deadline` (monotonic)."""
    channel = get_channel(target)
    described = describe_target(target)
    secrets = secrets_of(target, smtp)
    per_attempt = _attempt_timeout(target, smtp)
    max_attempts = target.max_attempts or DEFAULT_MAX_ATTEMPTS
    detail, made = "", 0
    while made < max_attempts:
        remaining = deadline - clock()
        if remaining < MIN_ATTEMPT_TIME:
            break
        started_at, start = datetime.now(UTC), clock()
        try:
            result = channel.send(event, target, smtp=smtp, timeout=min(per_attempt, remaining))
        except Exception as exc:  # a channel bug must not lose the message
            result = SendResult("retryable", None, "internal_error", f"{type(exc).__name__}: {exc}")
        made += 1
        detail = scrub(result.detail, secrets)
        attempt = Attempt(
            event_id=event.event_id,
            alert=event.alert,
            channel=target.kind,
            target=described,
            attempt=first_attempt + made - 1,
            outcome=result.outcome,
            status_code=result.status_code,
            error_class=result.error_class,
            detail=detail,
            latency_ms=round((clock() - start) * 1000, 1),
            started_at=started_at,
        )
        on_attempt(attempt)
        log.info(
            "notification attempt %s %s #%d: %s (%s)",
            attempt.alert,
            attempt.target,
            attempt.attempt,
            attempt.outcome,
            detail,
            extra={"alert": event.alert, "channel": target.kind, "event_id": event.event_id},
        )
        if result.outcome != "retryable":
            return DeliveryResult(result.outcome, made, detail)
        if made == max_attempts:
            return DeliveryResult("retryable", made, f"{detail} (gave up after {made} attempts)")
        wait = result.retry_after if result.retry_after is not None else backoff(made, rng)
        if wait > RETRY_AFTER_CAP or clock() + wait + MIN_ATTEMPT_TIME > deadline:
            why = "longer than the cap" if wait > RETRY_AFTER_CAP else "past the deadline"
            detail = f"{detail} (next try in {wait:.1f} s is {why})"
            return DeliveryResult("retryable", made, detail)
        sleep(wait)
    left = "no time left in this run"
    return DeliveryResult("retryable", made, f"{detail} ({left})" if made else left)


def preview(event: AlertEvent, target: NotifyTarget, *, smtp: SmtpSpec | None) -> dict[str, Any]:
    """What would be sent to `target`, secrets redacted (for `--dry-run`)."""
    head = {"channel": target.kind, "target": describe_target(target)}
    try:
        return {**head, **get_channel(target).preview(event, target, smtp=smtp)}
    except SentinelError as exc:
        return {**head, "error": scrub(str(exc), secrets_of(target, smtp))}
