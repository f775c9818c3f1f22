"""What one run of one alert found: the record the engine hands to the state database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.severity import Severity

if TYPE_CHECKING:  # keyed alerts only: a one-row run never loads it
    from sqlsentinel.core.instances import Instance

Clock = Callable[[], datetime]
"""Where a run, its deliveries and their records read the time (tests inject one)."""


def utc_now() -> datetime:
    """The wall clock, in UTC: every `Clock` parameter's default."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunRecord:
    """One run's facts. `condition` is the outcome after `on_error` / `on_no_data`."""

    run_id: str
    alert: str
    triggered_by: str  # MANUAL | CRON
    scheduled_at: datetime | None  # when the timer that started the run elapsed
    launched_at: datetime | None  # when the process was started (before its imports)
    started_at: datetime  # when the query started
    finished_at: datetime
    outcome: str  # one of core.outcomes.ALL_OUTCOMES
    condition: str  # ok | alert | error | keep
    actual_value: Any = None
    threshold: Any = None
    context: dict[str, Any] | None = None
    error: str | None = None
    instances: tuple[Instance, ...] | None = None  # a keyed alert's rows (None: no result read)
    severity: Severity | None = None  # the result's `severity` column (None: the alert's)
