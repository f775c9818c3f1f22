"""Per-row alerts, the pure parts: canonical keys, each instance through `decide`, summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sqlsentinel.core.decide import NotifyReason, Previous, Reason, Rule, State
from sqlsentinel.core.instances import (
    HISTORY_CHANGES_MAX,
    Instance,
    Known,
    counts,
    decide_instances,
    describe_key,
    history_summary,
    instance_key,
    states_after,
    summary_transition,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(key: int, condition: str = "alert", value: int = 9) -> Instance:
    return Instance(instance_key([key]), {"id": key}, condition, value, 5, {"region": "eu"})


def known(key: int, state: State, since: datetime = T0, told: bool = True) -> tuple[str, Known]:
    prev = Previous(state, since, since, since if told else None, state if told else None, False)
    return instance_key([key]), Known({"id": key}, prev, 7, 5, {"region": "us"})


def nobody(key: str) -> bool:
    return False


def test_canonical_keys_are_text_in_declared_order() -> None:
    assert instance_key([7, "eu"]) == '["7","eu"]'
    assert instance_key([7]) == instance_key(["7"]) == instance_key([Decimal("7")])
    assert instance_key([datetime(2026, 1, 2, tzinfo=UTC)]) == '["2026-01-02T00:00:00+00:00"]'
    assert instance_key(["eu", 7]) != instance_key([7, "eu"])
    assert describe_key({"warehouse_id": 7, "region": "eu"}) == "warehouse_id=7, region=eu"


def test_each_instance_has_its_own_transition() -> None:
    before = dict([known(1, State.OK), known(2, State.ALERT)])
    now = T0 + timedelta(minutes=5)
    decisions = decide_instances(
        before, [row(1), row(2), row(3, "ok")], Rule(), nobody, "resolve", now
    )
    by_key = {d.key_values["id"]: d.transition for d in decisions}
    assert (by_key[1].reason, by_key[1].notify) == (Reason.FIRING, NotifyReason.FIRING)
    assert (by_key[2].reason, by_key[2].notify) == (Reason.STILL_FIRING, None)
    assert by_key[2].since == T0  # the episode keeps its start
    assert (by_key[3].reason, by_key[3].notify) == (Reason.FIRST_RUN_OK, None)
    assert counts(states_after(decisions)) == {"ALERT": 2, "PENDING": 0, "OK": 1}


def test_for_and_repeat_interval_apply_per_instance() -> None:
    rule = Rule(for_=600, repeat_interval=3600)
    before = dict([known(1, State.PENDING, T0), known(2, State.ALERT, T0)])
    now = T0 + timedelta(minutes=61)
    decisions = decide_instances(before, [row(1), row(2), row(3)], rule, nobody, "resolve", now)
    by_key = {d.key_values["id"]: d.transition for d in decisions}
    assert by_key[1].notify is NotifyReason.FIRING  # pending since T0, `for` 10 min: fires
    assert by_key[2].notify is NotifyReason.REPEAT  # told at T0, repeat after 1 h
    assert (by_key[3].state, by_key[3].notify) == (State.PENDING, None)  # new: waits for `for`


@pytest.mark.parametrize(
    ("on_missing", "state", "notify", "removed"),
    [
        ("resolve", State.OK, NotifyReason.RESOLVED, True),
        ("keep", State.ALERT, None, False),
    ],
)
def test_an_absent_instance_resolves_or_keeps(
    on_missing: str, state: State, notify: NotifyReason | None, removed: bool
) -> None:
    before = dict([known(1, State.ALERT), known(2, State.OK)])
    decisions = decide_instances(before, [], Rule(), nobody, on_missing, T0)
    gone = {d.key_values["id"]: d for d in decisions}
    assert (gone[1].transition.state, gone[1].transition.notify) == (state, notify)
    assert gone[1].removed is removed and gone[2].removed is removed
    assert gone[1].row is None and gone[1].last is not None and gone[1].last.actual_value == 7


def test_a_silenced_instance_is_withheld_and_told_when_the_silence_ends() -> None:
    silenced = {instance_key([1])}
    first = decide_instances({}, [row(1), row(2)], Rule(), silenced.__contains__, "resolve", T0)
    by_key = {d.key_values["id"]: d.transition for d in first}
    assert (by_key[1].notify, by_key[1].suppressed) == (None, True)
    assert by_key[2].notify is NotifyReason.FIRING
    prev = Previous(State.ALERT, T0, T0, None, None, True)
    later = {instance_key([1]): Known({"id": 1}, prev)}
    [after] = decide_instances(later, [row(1)], Rule(), nobody, "resolve", T0)
    assert after.transition.notify is NotifyReason.SILENCE_ENDED


def test_history_lists_changes_bounded() -> None:
    many = [row(i, "ok") for i in range(HISTORY_CHANGES_MAX + 20)]
    decisions = decide_instances(dict([known(10_000, State.ALERT)]), many, Rule(), nobody,
                                 "resolve", T0)  # fmt: skip
    summary = history_summary(decisions, counts(states_after(decisions)))
    assert summary["changed_total"] == HISTORY_CHANGES_MAX + 21
    assert len(summary["changed"]) == HISTORY_CHANGES_MAX
    assert summary["changed"][0] == {"key": {"id": 0}, "from": None, "to": "OK"}
    assert summary["counts"]["OK"] == HISTORY_CHANGES_MAX + 20
    assert {"key": {"id": 10_000}, "from": "ALERT", "to": None} not in summary["changed"]
    [gone] = [d for d in decisions if d.removed]
    assert gone.changed


def test_the_alert_as_a_whole_summarises_and_tells_only_when_the_check_recovers() -> None:
    firing = decide_instances({}, [row(1)], Rule(), nobody, "resolve", T0)
    t = summary_transition(None, firing, False, Rule(), False, T0)
    assert (t.state, t.notify) == (State.ALERT, None)  # instances tell their own news
    quiet = decide_instances({}, [row(1, "ok")], Rule(), nobody, "resolve", T0)
    assert summary_transition(None, quiet, False, Rule(), False, T0).state is State.OK
    failed = Previous(State.ERROR, T0, None, T0, State.ERROR, False)
    back = summary_transition(failed, firing, True, Rule(), False, T0)
    assert (back.state, back.notify) == (State.ALERT, NotifyReason.RESOLVED)
    muted = summary_transition(failed, firing, True, Rule(notify_on_resolve=False), False, T0)
    assert muted.notify is None
