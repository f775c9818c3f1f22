"""`run --dry-run`: query, evaluate, show the transition and what would be sent; write nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlsentinel.config.spec import AlertSpec, Settings
from sqlsentinel.engine.evaluate import condition_for
from sqlsentinel.engine.query import run_query
from sqlsentinel.engine.run import build_event, rule_of
from sqlsentinel.state import store
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.transitions import decide


def dry_run_alert(alert: AlertSpec, settings: Settings, db: StateDB) -> dict[str, Any]:
    """One alert's would-be run, as a row for the CLI."""
    started = datetime.now(UTC)
    result = run_query(alert.database, alert.query, alert.timeout)
    now = datetime.now(UTC)
    prev, silenced = store.peek(db, alert.name, now)
    condition = condition_for(result.outcome, alert)
    t = decide(prev, condition, rule_of(alert), silenced, now)
    would_send: list[dict[str, Any]] = []
    if t.notify is not None:
        from sqlsentinel.notify.deliver import preview

        record = store.RunRecord(
            run_id=uuid.uuid4().hex,
            alert=alert.name,
            triggered_by="MANUAL",
            scheduled_at=None,
            started_at=started,
            finished_at=now,
            outcome=result.outcome,
            condition=condition,
        )
        event = build_event(alert, record, result, prev, t)
        would_send = [preview(event, target, smtp=settings.smtp) for target in alert.notify]
    return {
        "alert": alert.name,
        "outcome": result.outcome,
        "state": t.state.value,
        "previous_state": prev.state.value if prev else None,
        "transition": t.reason.value,
        "actual_value": result.actual_value,
        "threshold": result.threshold,
        "context": result.context,
        "error": result.error,
        "would_send": would_send,
    }
