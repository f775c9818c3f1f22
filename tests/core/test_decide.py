"""The alert state machine, case by case: `decide(prev, condition, rule, silenced, now)`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sqlsentinel.core.decide import NotifyReason, Previous, Reason, Rule, State, decide

N = NotifyReason

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)


def prev(
    state: State,
    since: datetime = T0,
    cond: datetime | None = None,
    notified_at: datetime | None = None,
    notified: State | None = None,
    suppressed: bool = False,
) -> Previous:
    return Previous(state, since, cond, notified_at, notified, suppressed)


FIRING = prev(State.ALERT, cond=T0, notified_at=T0, notified=State.ALERT)
SILENT_FIRING = prev(State.ALERT, cond=T0, suppressed=True)

# id: (previous, condition, rule, silenced, -> state, reason, notify, suppressed, since)
CASES = {
    "first run ok": (None, "ok", Rule(), False, State.OK, Reason.FIRST_RUN_OK, None, False, NOW),
    "first run alert fires": (
        None, "alert", Rule(), False, State.ALERT, Reason.FIRING, N.FIRING, False, NOW
    ),
    "still ok keeps since": (
        prev(State.OK), "ok", Rule(), False, State.OK, Reason.STILL_OK, None, False, T0
    ),
    "ok -> alert fires": (
        prev(State.OK), "alert", Rule(), False, State.ALERT, Reason.FIRING, N.FIRING, False,
        NOW,
    ),
    "for: first alert is pending": (
        None, "alert", Rule(for_=600), False, State.PENDING, Reason.PENDING, None, False, NOW
    ),
    "for: still pending before the duration": (
        prev(State.PENDING, cond=T0), "alert", Rule(for_=601), False, State.PENDING,
        Reason.STILL_PENDING, None, False, T0,
    ),
    "for: fires once the duration has passed": (
        prev(State.PENDING, cond=T0), "alert", Rule(for_=600), False, State.ALERT, Reason.FIRING,
        N.FIRING, False, NOW,
    ),
    "pending -> ok resolves silently": (
        prev(State.PENDING, cond=T0), "ok", Rule(for_=600), False, State.OK, Reason.RESOLVED,
        None, False, NOW,
    ),
    "alert -> ok resolved and notified": (
        FIRING, "ok", Rule(), False, State.OK, Reason.RESOLVED, N.RESOLVED, False, NOW
    ),
    "alert -> ok not notified when the firing was not": (
        prev(State.ALERT, cond=T0), "ok", Rule(), False, State.OK, Reason.RESOLVED, None, False,
        NOW,
    ),
    "alert -> ok with notify_on_resolve off": (
        FIRING, "ok", Rule(notify_on_resolve=False), False, State.OK, Reason.RESOLVED, None,
        False, NOW,
    ),
    "alert -> ok while silenced": (
        FIRING, "ok", Rule(), True, State.OK, Reason.RESOLVED, None, False, NOW
    ),
    "error -> ok resolved when the error was notified": (
        prev(State.ERROR, notified_at=T0, notified=State.ERROR), "ok", Rule(), False, State.OK,
        Reason.RESOLVED, N.RESOLVED, False, NOW,
    ),
    "error notifies": (
        prev(State.OK), "error", Rule(), False, State.ERROR, Reason.ERROR, N.ERROR, False,
        NOW,
    ),
    "error with notify_on_error off": (
        prev(State.OK), "error", Rule(notify_on_error=False), False, State.ERROR, Reason.ERROR,
        None, False, NOW,
    ),
    "error -> error does not repeat": (
        prev(State.ERROR, notified_at=T0, notified=State.ERROR), "error", Rule(repeat_interval=1),
        False, State.ERROR, Reason.STILL_ERROR, None, False, T0,
    ),
    "still firing within repeat_interval": (
        FIRING, "alert", Rule(repeat_interval=601), False, State.ALERT, Reason.STILL_FIRING, None,
        False, T0,
    ),
    "still firing without repeat_interval": (
        FIRING, "alert", Rule(), False, State.ALERT, Reason.STILL_FIRING, None, False, T0
    ),
    "repeat_interval elapsed repeats": (
        FIRING, "alert", Rule(repeat_interval=600), False, State.ALERT, Reason.REPEAT,
        N.REPEAT, False, T0,
    ),
    "silenced firing is suppressed": (
        prev(State.OK), "alert", Rule(), True, State.ALERT, Reason.FIRING, None, True, NOW
    ),
    "silenced and still firing stays suppressed": (
        SILENT_FIRING, "alert", Rule(), True, State.ALERT, Reason.STILL_FIRING, None, True, T0
    ),
    "silence ended while firing": (
        SILENT_FIRING, "alert", Rule(), False, State.ALERT, Reason.SILENCE_ENDED,
        N.SILENCE_ENDED, False, T0,
    ),
    "silenced error is suppressed": (
        prev(State.OK), "error", Rule(), True, State.ERROR, Reason.ERROR, None, True, NOW
    ),
    "silence ended while in error": (
        prev(State.ERROR, suppressed=True), "error", Rule(), False, State.ERROR,
        Reason.SILENCE_ENDED, N.SILENCE_ENDED, False, T0,
    ),
    "keep leaves an alert as it is": (
        FIRING, "keep", Rule(repeat_interval=1), False, State.ALERT, Reason.KEPT, None, False, T0
    ),
    "keep on first run is ok": (
        None, "keep", Rule(), False, State.OK, Reason.KEPT, None, False, NOW
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    "previous,condition,rule,silenced,state,reason,notify,suppressed,since",
    list(CASES.values()),
    ids=list(CASES),
)
def test_decide(
    previous, condition, rule, silenced, state, reason, notify, suppressed, since
) -> None:
    t = decide(previous, condition, rule, silenced, NOW)
    assert (t.state, t.reason, t.notify, t.suppressed, t.since) == (
        state,
        reason,
        notify,
        suppressed,
        since,
    )


def test_pending_keeps_the_condition_start_until_firing() -> None:
    rule = Rule(for_=300)
    t1 = decide(None, "alert", rule, False, T0)
    assert (t1.state, t1.condition_since) == (State.PENDING, T0)
    p = prev(State.PENDING, since=t1.since, cond=t1.condition_since)
    t2 = decide(p, "alert", rule, False, T0 + timedelta(seconds=299))
    assert (t2.state, t2.condition_since) == (State.PENDING, T0)
    t3 = decide(p, "alert", rule, False, T0 + timedelta(seconds=300))
    assert (t3.state, t3.notify, t3.condition_since) == (State.ALERT, N.FIRING, T0)
    assert t3.since == T0 + timedelta(seconds=300)
    t4 = decide(prev(State.ALERT, since=t3.since, cond=T0), "ok", rule, False, NOW)
    assert t4.condition_since is None


def test_repeat_needs_a_previous_notification() -> None:
    p = prev(State.ALERT, cond=T0, notified_at=None)
    assert decide(p, "alert", Rule(repeat_interval=1), False, NOW).notify is None
