"""Which alerts missed a run: their schedules (`schedule.missed`) against the runs the
state database recorded. `healthcheck`, `status`, `metrics` and the daemon ask here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.schedule.missed import Staleness, staleness
from sqlsentinel.state import listings
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.metrics import Exposition


def last_runs(db: StateDB) -> dict[str, datetime | None]:
    """Each alert's last recorded run (none before the schema exists)."""
    if db.schema_version() == 0:
        return {}
    return {r["alert"]: r["last_run_at"] for r in listings.states(db)}


def alerts_staleness(
    alerts: Sequence[AlertSpec],
    runs: Mapping[str, datetime | None],
    applied_at: datetime | None,
    offsets: Mapping[str, float],
    now: datetime,
) -> list[Staleness]:
    """How each enabled alert stands at `now` (`offsets`: jitter offsets by alert)."""
    return [
        staleness(a, runs.get(a.name), applied_at, offsets.get(a.name, 0.0), now)
        for a in alerts
        if a.enabled
    ]


def staleness_metrics(rows: Sequence[Staleness]) -> str:
    """The missed-run families in Prometheus text (added to `sqlsentinel metrics`)."""
    out = Exposition()
    out.gauge(
        "sqlsentinel_alert_stale",
        "1 while the alert missed a scheduled run (no run since a tick plus its stale_after).",
        [({"alert": r.alert}, float(r.stale)) for r in rows],
    )
    out.gauge(
        "sqlsentinel_alert_seconds_since_last_run",
        "Seconds since the alert's last recorded run.",
        [
            ({"alert": r.alert}, round(seconds, 3))
            for r in rows
            if (seconds := r.seconds_since_last_run) is not None
        ],
    )
    out.gauge(
        "sqlsentinel_alert_missed_run_timestamp_seconds",
        "The scheduled run a stale alert missed (the first tick with no run since).",
        [({"alert": r.alert}, tick.timestamp()) for r in rows if (tick := r.missed_tick)],
    )
    return out.text()
