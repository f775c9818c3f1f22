"""The state of each instance of a keyed alert (`instance_state`): read, write, list.

A row is written when its instance appears, changes state, notifies or reports other
values (`updated_at` is that moment), and deleted when the instance is forgotten.

Rows are written inside the run's transaction (state/record.py), which holds the alert's
state row: every writer of an alert's instances holds that lock first, so two runs of
one alert never decide the same instance at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlsentinel.core.instances import InstanceDecision, Known
from sqlsentinel.jsonsafe import dumps, to_jsonable
from sqlsentinel.state.db import StateDB, Tx
from sqlsentinel.state.record import previous_of
from sqlsentinel.state.schema import INSTANCE_TABLES_SINCE
from sqlsentinel.state.silences import instance_silences, silenced_now

_STATE = ("state", "since", "reason", "condition_since", "suppressed", "actual_value",
          "threshold", "context", "updated_at", "severity")  # fmt: skip
_TOLD = ("last_notified_at", "last_notified_state", "last_notified_severity")


def _ordered(value: dict[str, Any]) -> str:
    """JSON of the key values in the declared key order (jsonsafe.dumps sorts keys)."""
    return json.dumps(to_jsonable(value), ensure_ascii=False, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def known_instances(tx: Tx, alert: str) -> dict[str, Known]:
    """The instances of `alert` the state database holds, by canonical key."""
    rows = tx.all("SELECT * FROM instance_state WHERE alert = ?", (alert,))
    out = {}
    for r in rows:
        previous = previous_of(r)
        assert previous is not None
        out[r["instance_key"]] = Known(
            json.loads(r["key_values"]), previous, _loads(r["actual_value"]),
            _loads(r["threshold"]), _loads(r["context"]) or {},
        )  # fmt: skip
    return out


def save_instances(
    tx: Tx, alert: str, decisions: Sequence[InstanceDecision], now: datetime
) -> None:
    """Write what a run decided: every instance of the result whose row changes (a steady
    instance costs no write), and forget the removed ones."""
    told, quiet = [], []
    for d in decisions:
        if d.row is None or _unchanged(d):
            continue
        t, row = d.transition, d.row
        values = [
            alert, d.key, _ordered(d.key_values), t.state.value, t.since, t.reason.value,
            t.condition_since, t.suppressed, _json(row.actual_value), _json(row.threshold),
            _json(row.context or None), now, t.severity.value,
        ]  # fmt: skip
        if t.notify is not None:
            told.append([*values, now, t.state.value, t.severity.value])
        else:
            quiet.append(values)
    for rows, columns in ((quiet, _STATE), (told, _STATE + _TOLD)):
        names = ["alert", "instance_key", "key_values", *columns]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
        marks = ", ".join("?" for _ in names)
        tx.execute_many(
            f"INSERT INTO instance_state ({', '.join(names)}) VALUES ({marks}) "
            f"ON CONFLICT (alert, instance_key) DO UPDATE SET {updates}",
            rows,
        )
    gone = [(alert, d.key) for d in decisions if d.removed]
    tx.execute_many("DELETE FROM instance_state WHERE alert = ? AND instance_key = ?", gone)


def _unchanged(d: InstanceDecision) -> bool:
    """Whether the stored row already says everything this decision would write."""
    last, t, row = d.last, d.transition, d.row
    if last is None or row is None or t.notify is not None:
        return False
    p = last.previous
    same = (t.state, t.since, t.condition_since, t.suppressed, t.severity) == (
        p.state, p.since, p.condition_since, p.suppressed, p.severity)  # fmt: skip
    values = to_jsonable([row.actual_value, row.threshold, row.context or {}])
    return same and values == [last.actual_value, last.threshold, last.context]


def _json(value: Any) -> str | None:
    return None if value is None else dumps(value)


def silenced_keys(tx: Tx, alert: str, now: datetime) -> frozenset[str]:
    """The instances of `alert` silenced on their own right now."""
    return frozenset(instance_silences(tx, alert, now))


def peek_instances(
    db: StateDB, alert: str, now: datetime
) -> tuple[dict[str, Known], frozenset[str], str | None]:
    """What a keyed run would find, read without locking or writing (for --dry-run): the
    instances, the silenced ones, and the alert's last outcome."""
    if db.schema_version() < INSTANCE_TABLES_SINCE:
        return {}, frozenset(), None
    with db.read() as tx:
        outcome = tx.scalar("SELECT last_outcome FROM alert_state WHERE alert = ?", (alert,))
        return known_instances(tx, alert), silenced_keys(tx, alert, now), outcome


def instance_rows(db: StateDB, alert: str, now: datetime) -> list[dict[str, Any]]:
    """Every instance of `alert` with its values decoded and its silence (firing first)."""
    if db.schema_version() < INSTANCE_TABLES_SINCE:
        return []
    with db.read() as tx:
        rows = tx.all("SELECT * FROM instance_state WHERE alert = ?", (alert,))
        silences = instance_silences(tx, alert, now)
        whole = silenced_now(tx, alert, now)
    order = {"ALERT": 0, "PENDING": 1, "OK": 2}
    for r in rows:
        for name in ("key_values", "actual_value", "threshold", "context"):
            r[name] = _loads(r[name])
        s = silences.get(r["instance_key"]) or whole
        r["silenced_until"] = s["ends_at"] if s else None
    return sorted(rows, key=lambda r: (order.get(r["state"], 3), r["instance_key"]))


def instance_counts(db: StateDB) -> dict[str, dict[str, int]]:
    """How many instances of each keyed alert are in each state."""
    if db.schema_version() < INSTANCE_TABLES_SINCE:
        return {}
    with db.read() as tx:
        rows = tx.all(
            "SELECT alert, state, count(*) AS n FROM instance_state GROUP BY alert, state"
        )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["alert"], {})[r["state"]] = int(r["n"])
    return out
