"""The local backend's scheduler with an injected clock: the instants systemd's timers would
give (DST days included), one tick per job however late, catch-up per `persistent`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlsentinel.daemon.jobs import Job
from sqlsentinel.daemon.scheduler import Scheduler, Tick
from sqlsentinel.schedule.timer import Timer


def job(name: str, cron: str, zone: str = "UTC", persistent: bool = True) -> Job:
    """The job of an alert, its timer as its translation makes it."""
    timer = Timer.in_zone(cron, zone, now=datetime(2026, 1, 1, tzinfo=UTC))
    return Job(name, timer, persistent)


def drive(s: Scheduler, start: datetime, end: datetime, step: timedelta) -> list[Tick]:
    """Advance a fake clock from `start` to `end` in `step`s, collecting what fires."""
    fired, now = [], start
    while now <= end:
        fired += s.due(now)
        now += step
    return fired


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_dst_days_fire_at_the_instants_of_the_timer() -> None:
    cases = [
        ("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28), utc(2026, 3, 31)),  # spring forward
        ("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24), utc(2026, 10, 27)),  # fall back
        ("*/20 * * * *", "America/New_York", utc(2026, 11, 1, 4), utc(2026, 11, 1, 8)),
        ("0 * * * *", "Australia/Lord_Howe", utc(2026, 4, 4, 13), utc(2026, 4, 4, 17)),
    ]
    for cron, zone, start, end in cases:
        s = Scheduler()
        s.set_jobs([job("a", cron, zone)], start)
        fired = [t.scheduled for t in drive(s, start, end, timedelta(minutes=1))]
        model = Timer.in_zone(cron, zone, now=start)
        expected = []
        for t in model.iter_after(start):
            if t > end:
                break
            expected.append(t)
        assert fired == expected, (cron, zone)
    # the spring-forward day skips 02:30 (it does not exist); fall back fires it once
    s = Scheduler()
    s.set_jobs([job("a", "30 2 * * *", "Europe/Berlin")], utc(2026, 3, 29))
    assert s.wake_at() == utc(2026, 3, 30, 0, 30)


def test_a_late_wake_gives_one_tick_with_the_planned_instant() -> None:
    s = Scheduler()
    s.set_jobs([job("m", "* * * * *")], utc(2026, 1, 1))
    assert s.wake_at() == utc(2026, 1, 1, 0, 1)
    assert s.due(utc(2026, 1, 1, 0, 0, 59)) == []
    # asleep (suspended) for ten minutes: one tick, for the first missed instant
    assert s.due(utc(2026, 1, 1, 0, 11, 0, 500)) == [Tick("m", utc(2026, 1, 1, 0, 1))]
    assert s.wake_at() == utc(2026, 1, 1, 0, 12)


def test_catch_up_follows_persistent() -> None:
    start = utc(2026, 1, 1, 12, 0, 30)
    missed = {"kept": utc(2026, 1, 1, 9), "dropped": utc(2026, 1, 1, 9), "future": utc(2026, 1, 2)}
    s = Scheduler()
    s.set_jobs(
        [
            job("kept", "0 9 * * *"),
            job("dropped", "0 9 * * *", persistent=False),
            job("future", "0 0 * * *"),
            job("new", "0 9 * * *"),
        ],
        start,
        missed,
    )
    assert s.next_runs(start)["kept"] == utc(2026, 1, 2, 9)  # due now: the next one is named
    assert s.due(start) == [Tick("kept", utc(2026, 1, 1, 9), catch_up=True)]
    assert s.next_runs(start) == {
        "kept": utc(2026, 1, 2, 9),
        "dropped": utc(2026, 1, 2, 9),
        "future": utc(2026, 1, 2),
        "new": utc(2026, 1, 2, 9),
    }


def test_reloading_keeps_unchanged_jobs_and_replans_changed_ones() -> None:
    t0 = utc(2026, 1, 1, 10, 0, 0)
    s = Scheduler()
    s.set_jobs([job("a", "0 11 * * *"), job("b", "0 11 * * *")], t0)
    t1 = utc(2026, 1, 1, 11, 0, 0)  # a reload lands just as both are due, before they fire
    s.set_jobs([job("a", "0 11 * * *"), job("b", "30 12 * * *")], t1)
    assert s.due(t1) == [Tick("a", t1)]  # unchanged: still fires
    assert s.next_runs(t1) == {"a": utc(2026, 1, 2, 11), "b": utc(2026, 1, 1, 12, 30)}
    s.set_jobs([], t1)
    assert s.wake_at() is None and s.due(utc(2027, 1, 1)) == []


def test_a_clock_set_back_replans_the_next_instants_and_one_set_forward_keeps_them() -> None:
    start = utc(2027, 1, 1, 10, 0, 30)
    s = Scheduler()
    s.set_jobs([job("a", "* * * * *"), job("h", "0 * * * *")], start)
    assert [t.job for t in s.due(utc(2027, 1, 1, 10, 1))] == ["a"]
    back = utc(2027, 1, 1, 9, 31, 55)  # NTP set the clock back half an hour
    s.clock_changed(back)
    assert s.next_runs(back) == {"a": utc(2027, 1, 1, 9, 32), "h": utc(2027, 1, 1, 10)}
    assert [t.scheduled for t in s.due(utc(2027, 1, 1, 9, 32))] == [utc(2027, 1, 1, 9, 32)]
    forward = utc(2027, 1, 1, 11, 2, 55)
    s.clock_changed(forward)  # what passed stays due: it fires once, like a timer's elapse
    assert s.wake_at() == utc(2027, 1, 1, 9, 33)  # due at once
    assert s.next_runs(forward) == {"a": utc(2027, 1, 1, 11, 3), "h": utc(2027, 1, 1, 12)}
    assert [t.job for t in s.due(forward)] == ["a", "h"]
