"""Which scheduled elapse a timer-started run belongs to.

systemd hands a service TRIGGER_TIMER_REALTIME_USEC, but the value is the moment *some*
earlier firing of its timer triggered, often one or two periods back (systemd 252: the
third firing of a `* * * * *` timer carried the first one's trigger time; 259 likewise).
So it says only that a timer started the run. The run's elapse is the schedule's latest
elapse (jitter offset included) at or before the process launch, found by the alert's
`schedule.timer.Timer`, as the staleness check and the previews find theirs (DST policy
included). The launch is known to one clock tick (10 ms) and a timer fires when its
elapse comes, so an elapse up to `LAUNCH_SLACK_S` after the launch reading still counts.
A launch delayed past the next elapse (a manager busy for a whole period) is counted
against that next elapse: systemd skips an elapse while the service still runs, so one of
the two elapses has no run either way, and the staleness check reports the gap.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.schedule.cron import ScheduleError
from sqlsentinel.schedule.timer import Timer

LAUNCH_SLACK_S = 1.0


def scheduled_elapse(
    alert: AlertSpec, handed: datetime | None, launched: datetime, offset: float = 0.0
) -> datetime | None:
    """The elapse of `alert`'s timer that started a run launched at `launched`.

    `handed` is TRIGGER_TIMER_REALTIME_USEC (None for a manual run); `offset` the timer's
    fixed randomized delay in seconds. Returns `handed` when no elapse precedes the launch.
    """
    if handed is None:
        return None
    try:
        latest = Timer.of(alert, offset).latest_at_or_before(
            launched + timedelta(seconds=LAUNCH_SLACK_S)
        )
    except ScheduleError:  # a schedule that validated cannot fail; keep the handed value
        return handed
    return handed if latest is None else latest
