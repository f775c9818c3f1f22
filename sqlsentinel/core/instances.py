"""Per-row alerts (`key:`): instances, their canonical keys, and one run's decisions.

Each row of a keyed alert's result is an *instance*, named by its key values. Every
instance goes through the same `core.decide` as a one-row alert, with the alert's
`for`, `repeat_interval`, `notify_on_resolve` and its own silence. An instance the
result no longer has resolves (`on_missing: resolve`, then it is forgotten) or keeps
its state (`keep`). All of it is pure: the engine hands in what the state database
holds and writes back what comes out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlsentinel.core.decide import Previous, Rule, State, Transition, decide
from sqlsentinel.core.severity import Severity, highest
from sqlsentinel.core.spec import OnMissing
from sqlsentinel.jsonsafe import to_jsonable

INSTANCE_STATES = (State.ALERT, State.PENDING, State.OK)  # an instance is never in ERROR
HISTORY_CHANGES_MAX = 100  # changed instances a history row lists (the count is always kept)


def key_text(value: Any) -> str:
    """A key value as text: strings as they are, anything else as its JSON (7 -> "7")."""
    plain = to_jsonable(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


def instance_key(values: Iterable[Any]) -> str:
    """The canonical key of an instance: a JSON list of its key values as text, in the
    declared key order (so 7 and "7" name the same instance, and `--key id=7` finds it)."""
    return json.dumps([key_text(v) for v in values], ensure_ascii=False, separators=(",", ":"))


def describe_key(key_values: Mapping[str, Any]) -> str:
    """`warehouse_id=7, region=eu`: an instance as people read it."""
    return ", ".join(f"{k}={key_text(v)}" for k, v in key_values.items())


@dataclass(frozen=True)
class Instance:
    """One row of a keyed result."""

    key: str  # instance_key(...) of key_values
    key_values: dict[str, Any]  # key column -> value, in the declared order
    condition: str  # "ok" | "alert"
    actual_value: Any = None
    threshold: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # the row's `severity` column (None: the alert's)


@dataclass(frozen=True)
class Known:
    """An instance the state database holds from earlier runs."""

    key_values: dict[str, Any]
    previous: Previous
    actual_value: Any = None
    threshold: Any = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceDecision:
    """What one run decided for one instance."""

    key: str
    key_values: dict[str, Any]
    previous: Previous | None
    transition: Transition
    row: Instance | None  # None: the result did not have it
    last: Known | None = None  # what the state database held (its last values)
    removed: bool = False  # absent and resolved: forget it

    @property
    def changed(self) -> bool:
        """It appeared, changed state or was forgotten in this run."""
        before = self.previous.state if self.previous else None
        return self.removed or before is not self.transition.state


def decide_instances(
    known: Mapping[str, Known],
    rows: Sequence[Instance],
    rule: Rule,
    silenced: Callable[[str], bool],
    on_missing: OnMissing,
    now: datetime,
) -> list[InstanceDecision]:
    """Decide every instance of one run: the rows of the result, then the absent ones."""
    out = []
    for row in rows:
        last = known.get(row.key)
        prev = last.previous if last else None
        t = decide(prev, row.condition, rule, silenced(row.key), now, row.severity)
        out.append(InstanceDecision(row.key, row.key_values, prev, t, row, last))
    present = {row.key for row in rows}
    for key, k in known.items():
        if key in present:
            continue
        gone = on_missing == "resolve"
        t = decide(k.previous, "ok" if gone else "keep", rule, silenced(key), now)
        out.append(InstanceDecision(key, k.key_values, k.previous, t, None, k, removed=gone))
    return out


def counts(states: Iterable[State]) -> dict[str, int]:
    """How many instances are in each state."""
    found = {s.value: 0 for s in INSTANCE_STATES}
    for state in states:
        found[state.value] = found.get(state.value, 0) + 1
    return found


def states_after(decisions: Iterable[InstanceDecision]) -> list[State]:
    """The state of every instance after the run (forgotten ones are gone)."""
    return [d.transition.state for d in decisions if not d.removed]


def history_summary(decisions: Sequence[InstanceDecision], after: dict[str, int]) -> dict[str, Any]:
    """What a run's history row says of its instances: how many are in each state after it
    (`after`), and which changed (at most HISTORY_CHANGES_MAX, and how many did)."""
    changed = [d for d in decisions if d.changed]
    return {
        "counts": after,
        "changed_total": len(changed),
        "changed": [
            {
                "key": to_jsonable(d.key_values),
                "from": d.previous.state.value if d.previous else None,
                "to": None if d.removed else d.transition.state.value,
            }
            for d in changed[:HISTORY_CHANGES_MAX]
        ],
    }


def summary_transition(
    prev: Previous | None,
    decisions: Sequence[InstanceDecision],
    after_failure: bool,
    rule: Rule,
    silenced: bool,
    now: datetime,
) -> Transition:
    """The alert-level state after a successful keyed run: ALERT while any instance fires,
    else OK, at the highest severity of its firing instances. The alert as a whole notifies
    only when its check works again after a run whose outcome was a failure
    (`after_failure`): `resolved`, if that failure was told."""
    fire = [d.transition.severity for d in decisions
            if d.transition.state is State.ALERT and not d.removed]  # fmt: skip
    quiet = replace(prev, suppressed=False) if prev is not None else None
    level = highest(fire, rule.severity)
    t = decide(quiet, "alert" if fire else "ok", Rule(severity=rule.severity), False, now, level)
    notify = decide(prev, "ok", rule, silenced, now).notify if after_failure else None
    return replace(t, notify=notify, suppressed=False)
