"""The state machine of one alert: a pure function (previous, condition, rule, now) -> transition.

States: OK, PENDING (condition true, not yet for `for`), ALERT, ERROR (the check failed).
Every decision also carries a severity: the run's (from its `severity` column) or the
alert's. While firing, a severity above the one last told this episode notifies
(`escalated`), one below it too (`deescalated`) unless `notify_on_deescalate` is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlsentinel.core.severity import Severity
from sqlsentinel.core.spec import AlertSpec


class State(StrEnum):
    """An alert's state."""

    OK = "OK"
    PENDING = "PENDING"
    ALERT = "ALERT"
    ERROR = "ERROR"


class Reason(StrEnum):
    """Why the state is what it is after a run (stored in the state row and history)."""

    FIRST_RUN_OK = "first_run_ok"
    STILL_OK = "still_ok"
    PENDING = "pending"  # condition true, waiting for `for`
    STILL_PENDING = "still_pending"
    FIRING = "firing"  # became ALERT
    STILL_FIRING = "still_firing"
    REPEAT = "repeat_interval_elapsed"
    ESCALATED = "escalated"  # still firing, at a higher severity than last told
    DEESCALATED = "deescalated"  # still firing, at a lower severity than last told
    SILENCE_ENDED = "silence_ended"
    RESOLVED = "resolved"
    ERROR = "error"
    STILL_ERROR = "still_error"
    KEPT = "kept"  # on_error/on_no_data: keep


class NotifyReason(StrEnum):
    """Why a notification goes out."""

    FIRING = "firing"
    RESOLVED = "resolved"
    ERROR = "error"
    REPEAT = "repeat"
    SILENCE_ENDED = "silence_ended"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    TEST = "test"  # `sqlsentinel notify-test`; never decided by a run
    STALE = "stale"  # the daemon found a scheduled run missing (one per stale episode)
    RECOVERED = "recovered"  # the alert ran again after a stale episode


@dataclass(frozen=True)
class Previous:
    """What the state row said before this run."""

    state: State
    since: datetime
    condition_since: datetime | None
    last_notified_at: datetime | None
    last_notified_state: State | None
    suppressed: bool  # a notification was withheld by a silence
    severity: Severity | None = None  # the last run's (None: recorded before severities)
    notified_severity: Severity | None = None  # the severity of the last notification


@dataclass(frozen=True)
class Rule:
    """The alert settings that shape transitions."""

    for_: float = 0.0
    repeat_interval: float | None = None
    notify_on_resolve: bool = True
    notify_on_error: bool = True
    severity: Severity = Severity.ERROR  # the alert's own, when the run names none
    notify_on_deescalate: bool = True


@dataclass(frozen=True)
class Transition:
    """The decision for one run."""

    state: State
    since: datetime
    condition_since: datetime | None
    reason: Reason
    notify: NotifyReason | None
    suppressed: bool  # true when a due notification was withheld by a silence
    severity: Severity = Severity.ERROR  # of the state after the run (a resolve: the episode's)


def rule_of(alert: AlertSpec) -> Rule:
    """The transition settings of `alert`."""
    return Rule(
        alert.for_,
        alert.repeat_interval,
        alert.notify_on_resolve,
        alert.notify_on_error,
        alert.severity,
        alert.notify_on_deescalate,
    )


Condition = str  # "ok" | "alert" | "error" | "keep" (see core.outcomes.condition_for)


def decide(
    prev: Previous | None,
    condition: Condition,
    rule: Rule,
    silenced: bool,
    now: datetime,
    severity: Severity | None = None,
) -> Transition:
    """Decide the new state and whether to notify, from the run's effective condition and
    the severity its result named (None: the alert's own, `rule.severity`)."""
    level = severity or rule.severity
    if condition == "keep":
        if prev is None:
            return Transition(State.OK, now, None, Reason.KEPT, None, False, level)
        return Transition(
            prev.state, prev.since, prev.condition_since, Reason.KEPT, None, prev.suppressed,
            prev.severity or level,
        )  # fmt: skip
    if condition == "alert":
        return _alerting(prev, rule, silenced, now, level)
    if condition == "error":
        return _failing(prev, rule, silenced, now, level)
    # condition == "ok"
    if prev is None:
        return Transition(State.OK, now, None, Reason.FIRST_RUN_OK, None, False, level)
    if prev.state is State.OK:
        return Transition(State.OK, prev.since, None, Reason.STILL_OK, None, False, level)
    told = prev.last_notified_state in (State.ALERT, State.ERROR) and prev.state in (
        State.ALERT,
        State.ERROR,
    )
    notify = NotifyReason.RESOLVED if told and rule.notify_on_resolve else None
    return Transition(
        State.OK, now, None, Reason.RESOLVED, None if silenced else notify, False,
        episode_severity(prev, level),
    )  # fmt: skip


def episode_severity(prev: Previous, level: Severity) -> Severity:
    """The severity an ending episode had: what was last told of it, else its last run's."""
    return _told(prev) or prev.severity or level


def _told(prev: Previous) -> Severity | None:
    """The severity of the last notification sent in the current episode, if any."""
    told = prev.last_notified_at is not None and prev.last_notified_at >= prev.since
    return prev.notified_severity if told else None


def _failing(
    prev: Previous | None, rule: Rule, silenced: bool, now: datetime, level: Severity
) -> Transition:
    if prev is not None and prev.state is State.ERROR:
        if prev.suppressed and not silenced:
            return Transition(
                State.ERROR, prev.since, None, Reason.SILENCE_ENDED, NotifyReason.SILENCE_ENDED,
                False, level,
            )  # fmt: skip
        return Transition(
            State.ERROR, prev.since, None, Reason.STILL_ERROR, None, prev.suppressed, level
        )
    notify = NotifyReason.ERROR if rule.notify_on_error else None
    return _gate(State.ERROR, now, None, Reason.ERROR, notify, silenced, level)


def _alerting(
    prev: Previous | None, rule: Rule, silenced: bool, now: datetime, level: Severity
) -> Transition:
    if prev is not None and prev.state is State.ALERT:
        since, cond_since = prev.since, prev.condition_since or prev.since
        change = _severity_change(prev, rule, level)
        if silenced:  # a change that would notify is held until the silence ends
            held = prev.suppressed or (change is not None and change[1] is not None)
            return Transition(
                State.ALERT, since, cond_since, Reason.STILL_FIRING, None, held, level
            )
        if prev.suppressed:
            return Transition(
                State.ALERT, since, cond_since, Reason.SILENCE_ENDED, NotifyReason.SILENCE_ENDED,
                False, level,
            )  # fmt: skip
        if change is not None:
            return Transition(State.ALERT, since, cond_since, *change, False, level)
        last = prev.last_notified_at
        if rule.repeat_interval and last and now - last >= timedelta(seconds=rule.repeat_interval):
            return Transition(
                State.ALERT, since, cond_since, Reason.REPEAT, NotifyReason.REPEAT, False, level
            )
        return Transition(State.ALERT, since, cond_since, Reason.STILL_FIRING, None, False, level)
    pending = prev is not None and prev.state is State.PENDING
    cond_since = (prev.condition_since or prev.since) if pending and prev else now
    if now - cond_since < timedelta(seconds=rule.for_):
        if pending and prev:
            return Transition(
                State.PENDING, prev.since, cond_since, Reason.STILL_PENDING, None, False, level
            )
        return Transition(State.PENDING, now, cond_since, Reason.PENDING, None, False, level)
    return _gate(State.ALERT, now, cond_since, Reason.FIRING, NotifyReason.FIRING, silenced, level)


def _severity_change(
    prev: Previous, rule: Rule, level: Severity
) -> tuple[Reason, NotifyReason | None] | None:
    """How a firing alert's severity moved against what was last told this episode (else
    the last run's): the reason and what to notify, or None when it did not move. A fall
    that `notify_on_deescalate: false` keeps quiet is named only in the run it happens."""
    if level is prev.severity and level is prev.notified_severity:
        return None  # the steady case, without reading the episode's times
    reference = _told(prev) or prev.severity
    if reference is None or level is reference:
        return None
    if level.rank > reference.rank:
        return Reason.ESCALATED, NotifyReason.ESCALATED
    if rule.notify_on_deescalate:
        return Reason.DEESCALATED, NotifyReason.DEESCALATED
    return (Reason.DEESCALATED, None) if level is not prev.severity else None


def _gate(
    state: State,
    now: datetime,
    cond_since: datetime | None,
    reason: Reason,
    notify: NotifyReason | None,
    silenced: bool,
    level: Severity,
) -> Transition:
    """Withhold `notify` while silenced, remembering that it was withheld."""
    if silenced and notify is not None:
        return Transition(state, now, cond_since, reason, None, True, level)
    return Transition(state, now, cond_since, reason, notify, False, level)
