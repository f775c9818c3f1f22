"""Severity in the state machine, case by case: `decide(..., now, severity)`.

Every case gives the previous state row (its severity, and the severity last told in
this episode), the run's condition and the severity its result named (None: the
alert's own), and expects the state, reason, notification, suppression and severity.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sqlsentinel.core.decide import NotifyReason, Previous, Reason, Rule, State, decide
from sqlsentinel.core.severity import Severity, highest, severity_from

N, S = NotifyReason, Severity
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)
QUIET = Rule(notify_on_deescalate=False)


def firing(
    severity: Severity | None, told: Severity | None, *, told_at: datetime | None = T0,
    suppressed: bool = False,
) -> Previous:  # fmt: skip
    """A firing state row: its last run's severity, and the last notification's."""
    state = State.ALERT if told_at is not None else None
    return Previous(State.ALERT, T0, T0, told_at, state, suppressed, severity, told)


OLD_EPISODE = replace(firing(S.WARNING, S.CRITICAL), last_notified_at=T0 - timedelta(hours=1))

# id: (previous, condition, rule, silenced, run severity -> state, reason, notify, suppressed,
#      severity)
CASES = {
    "first firing carries the alert's severity": (
        None,
        "alert",
        Rule(severity=S.WARNING),
        False,
        None,
        State.ALERT,
        Reason.FIRING,
        N.FIRING,
        False,
        S.WARNING,
    ),
    "the column overrides the alert's": (
        None,
        "alert",
        Rule(severity=S.WARNING),
        False,
        S.CRITICAL,
        State.ALERT,
        Reason.FIRING,
        N.FIRING,
        False,
        S.CRITICAL,
    ),
    "no severity anywhere: error": (
        None,
        "alert",
        Rule(),
        False,
        None,
        State.ALERT,
        Reason.FIRING,
        N.FIRING,
        False,
        S.ERROR,
    ),
    "same severity: still firing": (
        firing(S.WARNING, S.WARNING),
        "alert",
        Rule(),
        False,
        S.WARNING,
        State.ALERT,
        Reason.STILL_FIRING,
        None,
        False,
        S.WARNING,
    ),
    "rise while firing escalates": (
        firing(S.WARNING, S.WARNING),
        "alert",
        Rule(),
        False,
        S.CRITICAL,
        State.ALERT,
        Reason.ESCALATED,
        N.ESCALATED,
        False,
        S.CRITICAL,
    ),
    "fall while firing deescalates": (
        firing(S.CRITICAL, S.CRITICAL),
        "alert",
        Rule(),
        False,
        S.INFO,
        State.ALERT,
        Reason.DEESCALATED,
        N.DEESCALATED,
        False,
        S.INFO,
    ),
    "notify_on_deescalate false: the fall is named, not sent": (
        firing(S.CRITICAL, S.CRITICAL),
        "alert",
        QUIET,
        False,
        S.WARNING,
        State.ALERT,
        Reason.DEESCALATED,
        None,
        False,
        S.WARNING,
    ),
    "notify_on_deescalate false: the next run at that level is still firing": (
        firing(S.WARNING, S.CRITICAL),
        "alert",
        QUIET,
        False,
        S.WARNING,
        State.ALERT,
        Reason.STILL_FIRING,
        None,
        False,
        S.WARNING,
    ),
    "notify_on_deescalate false: back up to what was told is not news": (
        firing(S.WARNING, S.CRITICAL),
        "alert",
        QUIET,
        False,
        S.CRITICAL,
        State.ALERT,
        Reason.STILL_FIRING,
        None,
        False,
        S.CRITICAL,
    ),
    "notify_on_deescalate false: above what was told escalates": (
        firing(S.INFO, S.WARNING),
        "alert",
        QUIET,
        False,
        S.ERROR,
        State.ALERT,
        Reason.ESCALATED,
        N.ESCALATED,
        False,
        S.ERROR,
    ),
    "compared with what was told, not the last run": (
        firing(S.CRITICAL, S.WARNING),
        "alert",
        Rule(),
        False,
        S.CRITICAL,
        State.ALERT,
        Reason.ESCALATED,
        N.ESCALATED,
        False,
        S.CRITICAL,
    ),
    "nothing told yet (no targets): compared with the last run": (
        firing(S.WARNING, None, told_at=None),
        "alert",
        Rule(),
        False,
        S.ERROR,
        State.ALERT,
        Reason.ESCALATED,
        N.ESCALATED,
        False,
        S.ERROR,
    ),
    "a notification of an earlier episode does not count": (
        OLD_EPISODE,
        "alert",
        Rule(),
        False,
        S.ERROR,
        State.ALERT,
        Reason.ESCALATED,
        N.ESCALATED,
        False,
        S.ERROR,
    ),
    "a row from before severities never escalates": (
        firing(None, None),
        "alert",
        Rule(),
        False,
        S.CRITICAL,
        State.ALERT,
        Reason.STILL_FIRING,
        None,
        False,
        S.CRITICAL,
    ),
    "an escalation while silenced is held": (
        firing(S.WARNING, S.WARNING),
        "alert",
        Rule(),
        True,
        S.CRITICAL,
        State.ALERT,
        Reason.STILL_FIRING,
        None,
        True,
        S.CRITICAL,
    ),
    "a quiet fall while silenced holds nothing": (
        firing(S.CRITICAL, S.CRITICAL),
        "alert",
        QUIET,
        True,
        S.INFO,
        State.ALERT,
        Reason.STILL_FIRING,
        None,
        False,
        S.INFO,
    ),
    "the silence ends: one message at the current severity": (
        firing(S.CRITICAL, S.WARNING, suppressed=True),
        "alert",
        Rule(),
        False,
        S.CRITICAL,
        State.ALERT,
        Reason.SILENCE_ENDED,
        N.SILENCE_ENDED,
        False,
        S.CRITICAL,
    ),
    "an escalation beats a due repeat": (
        firing(S.WARNING, S.WARNING),
        "alert",
        Rule(repeat_interval=60),
        False,
        S.CRITICAL,
        State.ALERT,
        Reason.ESCALATED,
        N.ESCALATED,
        False,
        S.CRITICAL,
    ),
    "a due repeat at the same severity": (
        firing(S.WARNING, S.WARNING),
        "alert",
        Rule(repeat_interval=60),
        False,
        S.WARNING,
        State.ALERT,
        Reason.REPEAT,
        N.REPEAT,
        False,
        S.WARNING,
    ),
    "pending changes no severity news": (
        Previous(State.PENDING, T0, T0, None, None, False, S.INFO),
        "alert",
        Rule(for_=3600),
        False,
        S.CRITICAL,
        State.PENDING,
        Reason.STILL_PENDING,
        None,
        False,
        S.CRITICAL,
    ),
    "the resolve carries the severity told": (
        firing(S.INFO, S.CRITICAL),
        "ok",
        QUIET,
        False,
        S.INFO,
        State.OK,
        Reason.RESOLVED,
        N.RESOLVED,
        False,
        S.CRITICAL,
    ),
    "the resolve of an untold episode carries its last run's": (
        firing(S.WARNING, None, told_at=None),
        "ok",
        Rule(),
        False,
        None,
        State.OK,
        Reason.RESOLVED,
        None,
        False,
        S.WARNING,
    ),
    "still ok takes the run's severity": (
        Previous(State.OK, T0, None, None, None, False, S.CRITICAL),
        "ok",
        Rule(),
        False,
        S.INFO,
        State.OK,
        Reason.STILL_OK,
        None,
        False,
        S.INFO,
    ),
    "an error has the alert's severity": (
        firing(S.CRITICAL, S.CRITICAL),
        "error",
        Rule(severity=S.WARNING),
        False,
        None,
        State.ERROR,
        Reason.ERROR,
        N.ERROR,
        False,
        S.WARNING,
    ),
    "keep keeps the severity": (
        firing(S.CRITICAL, S.CRITICAL),
        "keep",
        Rule(),
        False,
        None,
        State.ALERT,
        Reason.KEPT,
        None,
        False,
        S.CRITICAL,
    ),
}


@pytest.mark.parametrize(
    ("prev", "condition", "rule", "silenced", "severity", "state", "reason", "notify",
     "suppressed", "level"),
    list(CASES.values()),
    ids=list(CASES),
)  # fmt: skip
def test_decide_severity(
    prev: Previous | None, condition: str, rule: Rule, silenced: bool,
    severity: Severity | None, state: State, reason: Reason, notify: NotifyReason | None,
    suppressed: bool, level: Severity,
) -> None:  # fmt: skip
    t = decide(prev, condition, rule, silenced, NOW, severity)
    assert (t.state, t.reason, t.notify, t.suppressed, t.severity) == (
        state, reason, notify, suppressed, level)  # fmt: skip


def test_order_and_reading() -> None:
    assert [s.rank for s in Severity] == [0, 1, 2, 3]
    assert [s.value for s in Severity] == ["info", "warning", "error", "critical"]
    assert highest([S.WARNING, S.CRITICAL, S.INFO], S.ERROR) is S.CRITICAL
    assert highest([], S.INFO) is S.INFO
    assert severity_from(" Critical ") is S.CRITICAL and severity_from(None) is None
    for bad in ("urgent", "", 3, "high"):
        with pytest.raises(ValueError, match="info, warning, error, critical"):
            severity_from(bad)
