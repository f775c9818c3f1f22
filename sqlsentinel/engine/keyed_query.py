"""The result contract of a keyed alert (`key:`): any number of rows, one per instance.

Each row names its instance by the key columns and has a `status` (ALERT/OK), optional
`actual_value`, `threshold` and `severity` (NULL: the alert's); other columns are its
context. Column names match in
any case, as `status` does. No rows is no instances (outcome `ok`). One bad row makes the
whole result an error outcome, so nothing is half-recorded: `missing_key`, `null_key`,
`duplicate_key`, `too_many_instances` (more than `max_instances` rows: at most one row
more is ever read), and the one-row contract's `missing_status`, `invalid_status` and
`bad_severity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlsentinel.core.instances import Instance, describe_key, instance_key
from sqlsentinel.core.severity import severity_from
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.engine.query import QueryResult, run_query

RESERVED = ("status", "actual_value", "threshold", "severity")  # the contract's own columns


class _Refused(Exception):
    """The result breaks the contract: its outcome and message."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def run_keyed_query(alert: AlertSpec, timeout: float, *, dry_run: bool = False) -> QueryResult:
    """Run `alert`'s query and read its rows as instances."""
    read = partial(read_instances, alert)
    return run_query(
        alert.database,
        alert.query,
        timeout,
        dry_run=dry_run,
        read=read,
        max_rows=alert.max_instances + 1,
    )


def read_instances(alert: AlertSpec, columns: list[str], rows: Sequence[Any]) -> QueryResult:
    """The instances of a keyed result, or the named outcome of what is wrong with it."""
    try:
        instances = tuple(_instances(alert, columns, rows))
    except _Refused as exc:
        return QueryResult(exc.outcome, error=f"alert {alert.name!r}: {exc}")
    outcome = "alert" if any(i.condition == "alert" for i in instances) else "ok"
    return QueryResult(outcome, instances=instances)


def _instances(alert: AlertSpec, columns: list[str], rows: Sequence[Any]) -> list[Instance]:
    if len(rows) > alert.max_instances:
        raise _Refused(
            "too_many_instances",
            f"the query returned more than {alert.max_instances} rows (max_instances: "
            f"{alert.max_instances}); return one row per instance, or raise max_instances",
        )
    if not rows:
        return []
    where = _positions(alert, columns)
    seen: dict[str, int] = {}
    out = []
    for number, values in enumerate(rows, start=1):
        row = _instance(alert, columns, where, values, number)
        if row.key in seen:
            raise _Refused(
                "duplicate_key",
                f"rows {seen[row.key]} and {number} have the same key "
                f"{describe_key(row.key_values)}; each instance must be one row",
            )
        seen[row.key] = number
        out.append(row)
    return out


def _positions(alert: AlertSpec, columns: list[str]) -> dict[str, int]:
    """Where each key column and contract column is (by name, in any case)."""
    lower: dict[str, int] = {}
    for i, c in enumerate(columns):
        lower.setdefault(c.lower(), i)
    exact = {c: i for i, c in enumerate(columns)}
    found = {name: exact.get(name, lower.get(name.lower(), -1)) for name in alert.key}
    missing = [name for name, i in found.items() if i < 0]
    if missing:
        raise _Refused(
            "missing_key",
            f"the result has no key column {missing[0]!r} (key: {', '.join(alert.key)}; "
            f"columns: {', '.join(columns)})",
        )
    if "status" not in lower:
        raise _Refused(
            "missing_status", f"the result has no status column (columns: {', '.join(columns)})"
        )
    return found | {name: lower[name] for name in RESERVED if name in lower}


def _instance(
    alert: AlertSpec, columns: list[str], where: dict[str, int], values: Sequence[Any], number: int
) -> Instance:
    key_values = {name: values[where[name]] for name in alert.key}
    for name, value in key_values.items():
        if value is None:
            raise _Refused(
                "null_key", f"row {number} has NULL in key column {name!r}; every key needs a value"
            )
    status = values[where["status"]]
    normal = status.strip().upper() if isinstance(status, str) else None
    if normal not in {"ALERT", "OK"}:
        raise _Refused(
            "invalid_status",
            f"row {number} ({describe_key(key_values)}): status must be ALERT or OK, "
            f"got {status!r}",
        )
    try:
        severity = severity_from(values[where["severity"]]) if "severity" in where else None
    except ValueError as exc:
        raise _Refused(
            "bad_severity", f"row {number} ({describe_key(key_values)}): {exc}"
        ) from None
    special = set(where.values())
    return Instance(
        key=instance_key(key_values.values()),
        key_values=key_values,
        condition=normal.lower(),
        actual_value=values[where["actual_value"]] if "actual_value" in where else None,
        threshold=values[where["threshold"]] if "threshold" in where else None,
        context={c: v for i, (c, v) in enumerate(zip(columns, values, strict=True))
                 if i not in special},
        severity=severity,
    )  # fmt: skip
