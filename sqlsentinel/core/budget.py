"""A run's time budget, derived from the alert's `timeout` in one place.

A run spends at most `timeout` on its query (a cancelled statement then gets
QUERY_GRACE_S to give up before it is abandoned), then at most DELIVERY_BUDGET_S
writing its result and delivering notifications. A claim on an outbox row outlives
the delivery deadline by LEASE_SLACK_S.

systemd counts `TimeoutStartSec=` from the moment it starts the process, so time spent
waiting for a CPU before the run's own clock starts (hundreds of timers firing on the
same second) counts too. The unit's timeout is therefore STARTUP_ALLOWANCE_S plus
everything above plus EXIT_SLACK_S, and the run caps its own deadlines at that end
(measured from its launch) minus EXIT_SLACK_S: a run always ends by itself, recording
what it found, before systemd would kill it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STARTUP_ALLOWANCE_S = 120.0  # launch to query start: imports, and waiting for a CPU in a burst
QUERY_GRACE_S = 2.0  # a cancelled statement may take this long to give up
DELIVERY_BUDGET_S = 60.0  # seconds a run may spend recording and delivering, after its query
LEASE_SLACK_S = 30.0  # an outbox claim outlives the delivery deadline by this much
EXIT_SLACK_S = 5.0  # a run ends by itself this long before systemd's timeout


def unit_timeout(timeout: float) -> int:
    """`TimeoutStartSec=` for an alert's service."""
    return math.ceil(
        STARTUP_ALLOWANCE_S + timeout + QUERY_GRACE_S + DELIVERY_BUDGET_S + EXIT_SLACK_S
    )


@dataclass(frozen=True)
class RunBudget:
    """The deadlines of one run, on the monotonic clock."""

    timeout: float  # the alert's query timeout, seconds
    start: float  # time.monotonic() when the query starts
    launched: float | None = None  # time.monotonic() of the process launch, when known

    @property
    def hard_end(self) -> float:
        """When the run must be over (before systemd's timeout, counted from the launch)."""
        launched = self.start if self.launched is None else self.launched
        return launched + unit_timeout(self.timeout) - EXIT_SLACK_S

    @property
    def query_timeout(self) -> float:
        """Seconds the query may run (shorter only when the launch was very late)."""
        room = self.hard_end - QUERY_GRACE_S - DELIVERY_BUDGET_S - self.start
        return max(1.0, min(self.timeout, room))

    @property
    def delivery_deadline(self) -> float:
        """When recording and the last delivery attempt must have ended."""
        return min(self.start + self.timeout + DELIVERY_BUDGET_S, self.hard_end)


def lease_seconds(remaining: float) -> float:
    """How long to claim outbox rows when `remaining` seconds of delivery time are left."""
    return max(1.0, remaining) + LEASE_SLACK_S
