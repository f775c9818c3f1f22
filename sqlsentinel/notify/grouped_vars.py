"""What a keyed alert's grouped message shows: its template variables and instance table.

Email and Slack list at most LISTED_MAX instances, then `… and N more`; the webhook
payload carries them all (core/grouped.py).
"""

from __future__ import annotations

from typing import Any

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.grouped import REASON_WORDS, GroupedEvent, InstanceNotice
from sqlsentinel.core.instances import describe_key
from sqlsentinel.core.severity import Severity
from sqlsentinel.notify.values import show

LISTED_MAX = 50  # instances a message lists in email and Slack
CONTEXT_COLUMNS_MAX = 6  # context columns the table shows (the webhook has every one)
_TEXT_CELL_MAX = 40  # characters of one cell in the plain-text table


def grouped_vars(event: GroupedEvent) -> dict[str, Any]:
    """The names a grouped message's templates can use (docs/notifications.md)."""
    own = event.alert_event
    instances = [_instance(n) for n in event.instances]
    listed = instances[:LISTED_MAX]
    columns, rows = instance_table(event, LISTED_MAX)
    return {
        "event": event,
        "headline": f"{event.alert}: {event.summary()}",
        "summary": event.summary(),
        "alert": event.alert,
        "description": own.description,
        "state": own.state,
        "previous_state": own.previous_state,
        "reason": own.reason.value if event.told else None,
        "severity": event.severity.value,
        "error": own.error,
        "outcome": own.outcome,
        "occurred_at": own.occurred_at,
        "state_since": own.state_since,
        "tags": own.tags,
        "triggered_by": own.triggered_by,
        "run_id": own.run_id,
        "event_id": event.event_id,
        "dedup_key": event.dedup_key,
        "is_test": event.told and own.reason is NotifyReason.TEST,
        "key": list(event.key),
        "counts": {"ALERT": 0, "PENDING": 0, "OK": 0, **event.counts},
        "instances": instances,
        "listed": listed,
        "more": len(instances) - len(listed),
        "columns": columns,
        "rows": rows,
        "table": text_table(columns, rows),
    }


def _instance(n: InstanceNotice) -> dict[str, Any]:
    return {
        "key": n.key,
        "key_text": describe_key(n.key),
        "change": REASON_WORDS[n.reason],
        **{k: getattr(n, k) for k in ("state", "previous_state", "actual_value", "threshold")},
        **{k: getattr(n, k) for k in ("context", "state_since", "event_id", "dedup_key")},
        "reason": n.reason.value,
        "severity": n.severity.value,
        "in_result": n.in_result,
    }


def instance_table(event: GroupedEvent, limit: int) -> tuple[list[str], list[list[str]]]:
    """The header and the cells (as text) of the first `limit` instances; a `severity`
    column when one of them is not `error` (the default)."""
    listed = event.instances[:limit]
    graded = any(n.severity is not Severity.ERROR for n in listed)
    context: list[str] = []
    for n in listed:
        context += [c for c in n.context if c not in context]
    context = context[:CONTEXT_COLUMNS_MAX]
    columns = [*event.key, "change", *(["severity"] if graded else []), "value", "threshold",
               *context, "since"]  # fmt: skip
    rows = [
        [
            *(str(show(n.key.get(k))) for k in event.key),
            REASON_WORDS[n.reason] + ("" if n.in_result else " (absent)"),
            *([n.severity.value] if graded else []),
            str(show(n.actual_value)),
            str(show(n.threshold)),
            *(str(show(n.context.get(c))) for c in context),
            n.state_since.strftime("%Y-%m-%d %H:%M:%S UTC"),
        ]
        for n in listed
    ]
    return columns, rows


def text_table(columns: list[str], rows: list[list[str]]) -> str:
    """An aligned plain-text table (long cells shortened, line breaks folded)."""
    cells = [[_short(c) for c in row] for row in [columns, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _short(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= _TEXT_CELL_MAX else one[: _TEXT_CELL_MAX - 1] + "…"
