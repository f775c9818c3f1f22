"""Monotonic counts behind the Prometheus counters (`metric_counters`, schema v7).

Each count is bumped in the transaction that writes the row it counts (a run's history
row, a notification's final status, an attempt's outcome), so it commits or rolls back
with that row, and pruning history, the outbox or the delivery log never lowers it. The
migration seeded each count from the rows kept when the table was created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlsentinel.state.schema import COUNTERS_SINCE

if TYPE_CHECKING:
    from sqlsentinel.state.db import StateDB, Tx

RUNS = "runs"  # per (alert, run outcome)
NOTIFICATIONS = "notifications"  # per (alert, channel, final status)
ATTEMPTS = "attempts"  # per (alert, channel, attempt outcome)


def bump(tx: Tx, metric: str, alert: str, outcome: str, channel: str = "") -> None:
    """Add one to a count, inside the caller's transaction."""
    tx.execute(
        "INSERT INTO metric_counters (metric, alert, channel, outcome, total) "
        "VALUES (?, ?, ?, ?, 1) ON CONFLICT (metric, alert, channel, outcome) "
        "DO UPDATE SET total = metric_counters.total + 1",
        (metric, alert, channel, outcome),
    )


def read_counters(db: StateDB) -> list[dict[str, Any]]:
    """Every count (none before schema v7), in a stable order."""
    if db.schema_version() < COUNTERS_SINCE:
        return []
    with db.read() as tx:
        return tx.all(
            "SELECT metric, alert, channel, outcome, total FROM metric_counters "
            "ORDER BY metric, alert, channel, outcome"
        )
