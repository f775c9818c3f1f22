"""The instances of keyed alerts as Prometheus samples, the key columns as labels.

Label names are the key column names made valid (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting
with `__`, never `alert` or `state`, which are taken: such a name gets a `key_` prefix).
Each alert exports at most its `max_instances` instances (firing ones first), so a
scrape stays bounded; `sqlsentinel_alert_instances` counts them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlsentinel.core.instances import key_text
from sqlsentinel.core.spec import AlertSpec, defaults_of
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.schema import INSTANCE_TABLES_SINCE

Samples = list[tuple[dict[str, str], float]]
Family = tuple[str, str, Samples]  # name, help, samples
DEFAULT_CAP: int = defaults_of(AlertSpec)["max_instances"]
_TAKEN = {"alert", "state"}
_ORDER = {"ALERT": 0, "PENDING": 1, "OK": 2}


def label_names(columns: list[str]) -> dict[str, str]:
    """A valid, distinct Prometheus label name for each key column."""
    out: dict[str, str] = {}
    for column in columns:
        name = re.sub(r"[^a-zA-Z0-9_]", "_", column) or "_"
        if name[0].isdigit() or name.startswith("__") or name in _TAKEN:
            name = f"key_{name.lstrip('_')}"
        base, n = name, 2
        while name in out.values():
            name, n = f"{base}_{n}", n + 1
        out[column] = name
    return out


def instance_families(db: StateDB, caps: Mapping[str, int]) -> list[Family]:
    """The instance families of every keyed alert (`caps`: max_instances per alert, where
    known; DEFAULT_CAP otherwise)."""
    if db.schema_version() < INSTANCE_TABLES_SINCE:
        return []
    with db.read() as tx:
        rows = tx.all(
            "SELECT alert, instance_key, key_values, state, since, actual_value "
            "FROM instance_state ORDER BY alert, instance_key"
        )
    if not rows:
        return []
    by_alert: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_alert.setdefault(r["alert"], []).append(r)
    counts: Samples = []
    firing: Samples = []
    since: Samples = []
    values: Samples = []
    for alert, found in by_alert.items():
        for state in _ORDER:
            n = sum(r["state"] == state for r in found)
            counts.append(({"alert": alert, "state": state}, float(n)))
        found.sort(key=lambda r: _ORDER.get(r["state"], 3))
        for r in found[: caps.get(alert, DEFAULT_CAP)]:
            labels = _labels(alert, json.loads(r["key_values"]))
            firing.append((labels, float(r["state"] == "ALERT")))
            since.append((labels, r["since"].timestamp()))
            value = _number(r["actual_value"])
            if value is not None:
                values.append((labels, value))
    return [
        ("sqlsentinel_alert_instances", "Instances of a per-row alert in each state.", counts),
        ("sqlsentinel_alert_instance_firing", "1 while the instance fires, else 0.", firing),
        ("sqlsentinel_alert_instance_state_since_timestamp_seconds",
         "When the instance's current state began.", since),
        ("sqlsentinel_alert_instance_last_value",
         "The instance's last actual_value, when numeric.", values),
    ]  # fmt: skip


def _labels(alert: str, key_values: dict[str, Any]) -> dict[str, str]:
    names = label_names(list(key_values))
    return {"alert": alert, **{names[c]: key_text(v) for c, v in key_values.items()}}


def _number(text: str | None) -> float | None:
    value = None if text is None else json.loads(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
