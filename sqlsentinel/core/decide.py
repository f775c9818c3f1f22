"""The state machine of one alert: a pure function (previous, condition, rule, now) -> transition.

States: OK, PENDING (condition true, not yet for `for`), ALERT, ERROR (the check failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

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


@dataclass(frozen=True)
class Rule:
    """The alert settings that shape transitions."""

    for_: float = 0.0
    repeat_interval: float | None = None
    notify_on_resolve: bool = True
    notify_on_error: bool = True


@dataclass(frozen=True)
class Transition:
    """The decision for one run."""

    state: State
    since: datetime
    condition_since: datetime | None
    reason: Reason
    notify: NotifyReason | None
    suppressed: bool  # true when a due notification was withheld by a silence


def rule_of(alert: AlertSpec) -> Rule:
    """The transition settings of `alert`."""
    return Rule(alert.for_, alert.repeat_interval, alert.notify_on_resolve, alert.notify_on_error)


Condition = str  # "ok" | "alert" | "error" | "keep" (see core.outcomes.condition_for)


def decide(
    prev: Previous | None, condition: Condition, rule: Rule, silenced: bool, now: datetime
) -> Transition:
    """Decide the new state and whether to notify, from the run's effective condition."""
    if condition == "keep":
        if prev is None:
            return Transition(State.OK, now, None, Reason.KEPT, None, False)
        return Transition(
            prev.state, prev.since, prev.condition_since, Reason.KEPT, None, prev.suppressed
        )
    if condition == "alert":
        return _alerting(prev, rule, silenced, now)
    if condition == "error":
        if prev is not None and prev.state is State.ERROR:
            if prev.suppressed and not silenced:
                return Transition(
                    State.ERROR,
                    prev.since,
                    None,
                    Reason.SILENCE_ENDED,
                    NotifyReason.SILENCE_ENDED,
                    False,
                )
            return Transition(
                State.ERROR, prev.since, None, Reason.STILL_ERROR, None, prev.suppressed
            )
        return _gate(
            State.ERROR,
            now,
            None,
            Reason.ERROR,
            NotifyReason.ERROR if rule.notify_on_error else None,
            silenced,
        )
    # condition == "ok"
    if prev is None:
        return Transition(State.OK, now, None, Reason.FIRST_RUN_OK, None, False)
    if prev.state is State.OK:
        return Transition(State.OK, prev.since, None, Reason.STILL_OK, None, False)
    told = prev.last_notified_state in (State.ALERT, State.ERROR) and prev.state in (
        State.ALERT,
        State.ERROR,
    )
    notify = NotifyReason.RESOLVED if told and rule.notify_on_resolve else None
    return Transition(State.OK, now, None, Reason.RESOLVED, None if silenced else notify, False)


def _alerting(prev: Previous | None, rule: Rule, silenced: bool, now: datetime) -> Transition:
    if prev is not None and prev.state is State.ALERT:
        since, cond_since = prev.since, prev.condition_since or prev.since
        if silenced:
            return Transition(
                State.ALERT, since, cond_since, Reason.STILL_FIRING, None, prev.suppressed
            )
        if prev.suppressed:
            return Transition(
                State.ALERT,
                since,
                cond_since,
                Reason.SILENCE_ENDED,
                NotifyReason.SILENCE_ENDED,
                False,
            )
        last = prev.last_notified_at
        if rule.repeat_interval and last and now - last >= timedelta(seconds=rule.repeat_interval):
            return Transition(
                State.ALERT, since, cond_since, Reason.REPEAT, NotifyReason.REPEAT, False
            )
        return Transition(State.ALERT, since, cond_since, Reason.STILL_FIRING, None, False)
    pending = prev is not None and prev.state is State.PENDING
    cond_since = (prev.condition_since or prev.since) if pending and prev else now
    if now - cond_since < timedelta(seconds=rule.for_):
        if pending and prev:
            return Transition(
                State.PENDING, prev.since, cond_since, Reason.STILL_PENDING, None, False
            )
        return Transition(State.PENDING, now, cond_since, Reason.PENDING, None, False)
    return _gate(State.ALERT, now, cond_since, Reason.FIRING, NotifyReason.FIRING, silenced)


def _gate(
    state: State,
    now: datetime,
    cond_since: datetime | None,
    reason: Reason,
    notify: NotifyReason | None,
    silenced: bool,
) -> Transition:
    """Withhold `notify` while silenced, remembering that it was withheld."""
    if silenced and notify is not None:
        return Transition(state, now, cond_since, reason, None, True)
    return Transition(state, now, cond_since, reason, notify, False)
