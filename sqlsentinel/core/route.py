"""Who is told: receivers and the `policy:` rules, and when a receiver's `repeat` is due.

A pure function of the thing being told (an alert, or one instance of a keyed alert), the
alert's own receivers, the policy and when each receiver last had it; `now` is injected.
The alert's own `notify:` always applies; the policy adds receivers: its rules are tried
in order, the first that matches wins, and one with `continue: true` lets the next ones
be tried too. A rule's `repeat` re-sends a firing alert to its receivers that long after
the last delivery to that receiver (one still being delivered counts), on its own clock;
for those receivers the alert's `repeat_interval` does not apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.severity import NAMES, Severity
from sqlsentinel.core.spec import RouteMatch, RouteRule, SeverityMatch

OWN = ""
"""The receiver name of an alert's inline `notify:` targets."""


def parse_severity_match(text: str) -> SeverityMatch:
    """`critical` or `>=warning` (any case); ValueError naming the accepted forms otherwise."""
    body = text.strip()
    at_least = body.startswith(">=")
    name = body.removeprefix(">=").strip().lower()
    if name not in {s.value for s in Severity}:
        raise ValueError(
            f"must be a severity ({NAMES}) or '>=' and one (e.g. '>=warning'), not {text!r}"
        )
    return SeverityMatch(Severity(name), at_least)


def static_match(m: RouteMatch, alert: str, tags: Sequence[str], database: str) -> bool:
    """The conditions the config alone settles (the rest are `dynamic_match`'s)."""
    return (
        (m.alert is None or fnmatchcase(alert, m.alert))
        and all(t in tags for t in m.tags)
        and (m.database is None or m.database == database)
    )


def dynamic_match(m: RouteMatch, severity: Severity, key: Mapping[str, str]) -> bool:
    """The conditions only a run settles: its (or its row's) severity and key values."""
    s = m.severity
    if s is not None and not (
        severity.rank >= s.severity.rank if s.at_least else severity is s.severity
    ):
        return False
    return all(key.get(col) == value for col, value in m.key.items())


@dataclass(frozen=True)
class Subject:
    """What is being told: an alert, or one instance of a keyed alert."""

    alert: str
    severity: Severity
    firing: bool  # ALERT now (only a firing thing repeats)
    tags: tuple[str, ...] = ()
    database: str = "default"
    key: Mapping[str, str] = field(default_factory=dict)  # key column -> value as text


@dataclass(frozen=True)
class Send:
    """One receiver to tell, and why."""

    receiver: str  # OWN for the alert's inline targets
    reason: NotifyReason


def receivers(
    subject: Subject, own: Sequence[str], policy: Sequence[RouteRule]
) -> dict[str, float | None]:
    """Receiver -> its `repeat` (None: none), in order: the alert's own, then the policy's."""
    out: dict[str, float | None] = dict.fromkeys(own)
    for rule in policy:
        m = rule.match
        if not (
            static_match(m, subject.alert, subject.tags, subject.database)
            and dynamic_match(m, subject.severity, subject.key)
        ):
            continue
        for name in rule.receivers:
            if out.get(name) is None:
                out[name] = rule.repeat
        if not rule.continue_:
            break
    return out


def route(
    subject: Subject,
    reason: NotifyReason | None,
    own: Sequence[str],
    policy: Sequence[RouteRule],
    last_sent: Mapping[str, datetime],
    now: datetime,
    *,
    repeats: bool = True,
) -> list[Send]:
    """The receivers to tell now: all of them when the run decided to notify (`reason`),
    except that the alert's `repeat_interval` (reason REPEAT) skips receivers with a
    `repeat` of their own; and each receiver whose `repeat` is due (firing, and nothing
    sent to it in the last `repeat`, per `last_sent`: receiver -> when); without
    `repeats`, only what the run decided (a dry run, which reads no delivery record)."""
    out = []
    for name, repeat in receivers(subject, own, policy).items():
        if reason is not None and not (reason is NotifyReason.REPEAT and repeat is not None):
            out.append(Send(name, reason))
        elif (
            repeats
            and repeat is not None
            and subject.firing
            and repeat_due(repeat, last_sent.get(name), now)
        ):
            out.append(Send(name, NotifyReason.REPEAT))
    return out


def repeat_due(repeat: float, last: datetime | None, now: datetime) -> bool:
    """`repeat` seconds have passed since `last` (never sent: due)."""
    return last is None or now - last >= timedelta(seconds=repeat)


def key_text_of(values: Mapping[str, Any]) -> dict[str, str]:
    """Key values as a rule's `match` compares them (as text: 7 and "7" are one value)."""
    from sqlsentinel.core.instances import key_text  # keyed alerts only: not on a tick

    return {k: key_text(v) for k, v in values.items()}
