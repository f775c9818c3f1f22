"""The notification of a stale episode: an alert missed a scheduled run (`stale`), or ran
again after missing one (`recovered`). The daemon sends it; no run decided it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.event import AlertEvent, make_dedup_key, new_event_id
from sqlsentinel.core.spec import AlertSpec

TRIGGERED_BY = "DAEMON"  # `triggered_by` of stale and recovered notifications
NEVER_RUN = "NEVER_RUN"  # the `state` of an alert with no recorded run


def stale_event(
    alert: AlertSpec,
    reason: NotifyReason,
    episode_id: str,
    missed_tick: datetime,
    state_row: Mapping[str, Any] | None,
    now: datetime,
) -> AlertEvent:
    """The `stale` or `recovered` event of one episode (a fresh event id).

    It describes the alert as its state row has it (the last recorded run, `state_row`
    None when it never ran); both events of an episode share one dedup key, made from the
    first missed tick, and carry the episode id as their `run_id`.
    """
    row = state_row or {}
    return AlertEvent(
        event_id=new_event_id(),
        dedup_key=make_dedup_key(alert.name, "STALE", missed_tick),
        alert=alert.name,
        description=alert.description,
        state=row.get("state") or NEVER_RUN,
        previous_state=None,
        reason=reason,
        actual_value=_decoded(row.get("last_value")),
        threshold=_decoded(row.get("last_threshold")),
        context={},
        error=row.get("last_error"),
        outcome=row.get("last_outcome") or "never_run",
        occurred_at=now,
        state_since=row.get("since") or missed_tick,
        severity=alert.severity,
        tags=alert.tags,
        triggered_by=TRIGGERED_BY,
        run_id=episode_id,
        missed_tick=missed_tick,
        last_run_at=row.get("last_run_at"),
    )


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
