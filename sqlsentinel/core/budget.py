"""A run's time budget, derived from the alert's `timeout` in one place.

A run spends at most `timeout` on its query (a cancelled statement then gets
QUERY_GRACE_S to give up before it is abandoned), then at most DELIVERY_BUDGET_S
delivering notifications. A claim on an outbox row outlives the delivery deadline
by LEASE_SLACK_S, so a run that is killed releases it soon after. systemd's
`TimeoutStartSec=` must outlast all of that plus the start-up (STARTUP_S).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

QUERY_GRACE_S = 2.0  # a cancelled statement may take this long to give up
DELIVERY_BUDGET_S = 60.0  # seconds a run may spend delivering, after its query
LEASE_SLACK_S = 30.0  # an outbox claim outlives the delivery deadline by this much
STARTUP_S = 28.0  # process start, imports and connecting, before the query starts


@dataclass(frozen=True)
class RunBudget:
    """The deadlines of one run, on the monotonic clock."""

    timeout: float  # the alert's query timeout, seconds
    start: float  # time.monotonic() when the run began

    @property
    def query_deadline(self) -> float:
        """When the query is cancelled."""
        return self.start + self.timeout

    @property
    def delivery_deadline(self) -> float:
        """When the last delivery attempt must have ended."""
        return self.start + self.timeout + DELIVERY_BUDGET_S


def lease_seconds(remaining: float) -> float:
    """How long to claim outbox rows when `remaining` seconds of delivery time are left."""
    return max(1.0, remaining) + LEASE_SLACK_S


def unit_timeout(timeout: float) -> int:
    """`TimeoutStartSec=` for an alert's service: start-up + query + grace + delivery."""
    return math.ceil(timeout) + math.ceil(STARTUP_S + QUERY_GRACE_S + DELIVERY_BUDGET_S)
