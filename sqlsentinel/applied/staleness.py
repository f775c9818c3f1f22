"""Whether an alert missed a scheduled run (is stale): the one home of the verdict.

An alert that runs (an entry of the timetable) is stale when a tick of its timer passed,
plus its grace (`stale_grace`: `core.spec.stale_grace`, written into the timetable), with
no run recorded since. The tick counted is the first one after the alert's last run (or,
when it never ran, after its config was applied), as the timer's own chain of elapses has
it (`Timer.next_in_chain`): a repeated wall-clock hour (DST fall back) is silent, and a
time skipped by the spring jump never comes. `healthcheck`, `status` and `metrics` ask
here over the state database's last runs; the daemon's stale watch notifies from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlsentinel.applied.timetable import Scheduled, Timetable


@dataclass(frozen=True)
class Staleness:
    """Whether one alert missed a run at `now`, and since when."""

    alert: str
    now: datetime
    last_run_at: datetime | None
    due: datetime | None  # the first tick (its jitter offset included) with no run after it
    grace: float  # seconds past `due` before the alert is stale

    @property
    def stale(self) -> bool:
        """True when `due` passed more than `grace` ago."""
        return self.due is not None and self.due + timedelta(seconds=self.grace) <= self.now

    @property
    def missed_tick(self) -> datetime | None:
        """The tick the alert missed, while it is stale."""
        return self.due if self.stale else None

    def describe(self) -> str:
        """`missed its run at … UTC; last run … UTC (stale 90s after a tick)`, while stale."""
        if self.missed_tick is None:
            return "ran on schedule"
        last = f"last run {_utc(self.last_run_at)}" if self.last_run_at else "it never ran"
        return (
            f"missed its run at {_utc(self.missed_tick)}; {last} "
            f"(stale {self.grace:g}s after a tick without a run)"
        )

    @property
    def seconds_since_last_run(self) -> float | None:
        """Seconds since the last recorded run (None: it never ran)."""
        if self.last_run_at is None:
            return None
        return (self.now - self.last_run_at).total_seconds()


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def staleness(
    entry: Scheduled, last_run_at: datetime | None, applied_at: datetime | None, now: datetime
) -> Staleness:
    """How the alert of `entry` stands at `now`: its last run, the first tick after it, its
    grace. One that never ran is due from the first tick after `applied_at` (None: nothing
    is expected of it yet)."""
    reference = last_run_at or applied_at
    due = None if reference is None else entry.timer.next_in_chain(reference)
    return Staleness(entry.name, now, last_run_at, due, entry.stale_grace)


def timetable_staleness(
    timetable: Timetable, runs: Mapping[str, datetime | None], now: datetime
) -> list[Staleness]:
    """How each alert that runs stands at `now` (`runs`: last runs by alert)."""
    return [staleness(e, runs.get(e.name), timetable.applied_at, now) for e in timetable.alerts]


def staleness_metrics(rows: Sequence[Staleness]) -> str:
    """The stale families in Prometheus text (added to `sqlsentinel metrics`)."""
    from sqlsentinel.state.metrics import Exposition

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
