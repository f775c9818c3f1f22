"""Which scheduled elapse a timer-started run belongs to.

systemd hands a service its timer's elapse in TRIGGER_TIMER_REALTIME_USEC, but only the
first firing after the timer starts carries its own: later ones carry the elapse *before*
(systemd 252 to at least 259). That value is still a lower bound, so the run's elapse is
the first one of its schedule after it, if that is not after the launch, else the value
itself. The schedule is read as the timer reads its lines (the DST policy, jitter offset
included), by the same enumerator that `schedule` previews with. The launch is known to
one clock tick (10 ms) and a timer fires when its elapse comes, so a launch up to
`LAUNCH_SLACK_S` before the following elapse still belongs to it (elapses of a schedule
are at least a minute apart).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.schedule.cron import ScheduleError, parse
from sqlsentinel.schedule.reference import CalendarTimer, CronSchedule

LAUNCH_SLACK_S = 1.0


def scheduled_elapse(
    alert: AlertSpec, handed: datetime | None, launched: datetime, offset: float = 0.0
) -> datetime | None:
    """The elapse of `alert`'s timer that started a run launched at `launched`.

    `handed` is TRIGGER_TIMER_REALTIME_USEC (None for a manual run); `offset` the timer's
    fixed randomized delay in seconds.
    """
    if handed is None:
        return None
    try:
        timer = CalendarTimer(CronSchedule(parse(alert.schedule)), alert.calendar_zone,
                              alert.minute_shift)  # fmt: skip
    except ScheduleError:  # a schedule that validated cannot fail; keep the handed value
        return handed
    shift = timedelta(seconds=offset)
    following = timer.next_after(handed - shift)
    if following is not None and following + shift <= launched + timedelta(seconds=LAUNCH_SLACK_S):
        return following + shift
    return handed
