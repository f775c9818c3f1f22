"""When an alert should last have run, and whether it missed a run (is stale).

An enabled alert is stale when a tick of its timer passed, plus its grace
(`core.spec.stale_grace`), with no run recorded since. The tick counted is the first one
after the alert's last run (or, when it never ran, after its config was applied), as the
timer's own chain of elapses has it (`Timer.next_in_chain`): a repeated wall-clock hour
(DST fall back) is silent, and a time skipped by the spring jump never comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlsentinel.core.spec import AlertSpec, stale_grace
from sqlsentinel.schedule.timer import Timer


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
    alert: AlertSpec,
    last_run_at: datetime | None,
    applied_at: datetime | None,
    offset: float,
    now: datetime,
) -> Staleness:
    """How `alert` stands at `now`: its last run, the first tick after it, its grace.

    `offset` is the alert's jitter offset on this host (seconds after each tick its timer
    fires). A disabled alert is never due; one that never ran is due from the first tick
    after `applied_at` (None: nothing is expected of it yet).
    """
    reference = last_run_at or applied_at
    due = None
    if alert.enabled and reference is not None:
        due = Timer.of(alert, offset).next_in_chain(reference)
    return Staleness(alert.name, now, last_run_at, due, stale_grace(alert))
