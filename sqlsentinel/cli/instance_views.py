"""What the commands show of keyed alerts' instances, and `--key NAME=VALUE` for silences.

A listing gains its `instances` column only when a keyed alert is in it, so the output
of configs without `key:` is what it always was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlsentinel.cli.table import Column
from sqlsentinel.core.instances import instance_key, key_text
from sqlsentinel.errors import UsageError
from sqlsentinel.state.db import StateDB

INSTANCE_COLUMNS = (
    Column("key"), Column("state"), Column("severity", keep=9),
    Column("since", keep=5), Column("reason", keep=4),
    Column("actual_value", "VALUE", keep=6), Column("threshold", keep=3),
    Column("silenced_until", "SILENCED", keep=7, optional=True),
    Column("updated_at", "UPDATED", keep=1),
)  # fmt: skip


def with_instances(columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> tuple[Column, ...]:
    """`columns`, with `instances` before the last one when any row has instances."""
    if not any(r.get("instances") is not None for r in rows):
        return tuple(columns)
    return (*columns[:-1], Column("instances", keep=7), columns[-1])


def instances_text(summary: dict[str, Any] | None) -> str | None:
    """`ALERT 2, OK 38; 7 OK→ALERT, 9 ALERT→gone` for a table cell (JSON keeps it all)."""
    if summary is None:
        return None
    tally = ", ".join(f"{state} {n}" for state, n in summary["counts"].items() if n)
    changes = [
        f"{','.join(map(key_text, c['key'].values()))} {c['from'] or 'new'}→{c['to'] or 'gone'}"
        for c in summary["changed"]
    ]
    more = summary["changed_total"] - len(changes)
    text = f"{tally or 'none'}; {', '.join(changes)}" if changes else tally or "none"
    return f"{text} (+{more})" if more > 0 else text


def firing_of_total(counts: dict[str, int] | None) -> str | None:
    """`2/40 firing` for `status`."""
    if counts is None:
        return None
    return f"{counts.get('ALERT', 0)}/{sum(counts.values())} firing"


def instance_lines(db: StateDB, alert: str, now: datetime) -> list[dict[str, Any]]:
    """`status --alert NAME` of a keyed alert: one line per instance, firing first."""
    from sqlsentinel.core.instances import describe_key
    from sqlsentinel.state.instances import instance_rows

    rows = instance_rows(db, alert, now)
    for r in rows:
        r["key"] = describe_key(r["key_values"])
    return rows


def canonical_key(alert: str, key: Sequence[str], given: Sequence[str]) -> str:
    """The instance `--key NAME=VALUE …` names (every key column once, any case), as the
    canonical key runs compare silences with; UsageError when it names something else."""
    if not key:
        raise UsageError(f"--key: alert {alert!r} has no key: columns (it is not per-row)")
    lower = {c.lower(): c for c in key}
    values: dict[str, str] = {}
    for item in given:
        name, sep, value = item.partition("=")
        column = lower.get(name.strip().lower())
        if not sep or column is None:
            raise UsageError(
                f"--key {item!r}: write COLUMN=VALUE with a key column of {alert!r} "
                f"({', '.join(key)})"
            )
        if column in values:
            raise UsageError(f"--key: {column} is given twice")
        values[column] = value
    missing = [c for c in key if c not in values]
    if missing:
        raise UsageError(f"--key: give every key column of {alert!r}; missing {', '.join(missing)}")
    return instance_key(values[c] for c in key)
