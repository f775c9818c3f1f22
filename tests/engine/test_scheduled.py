"""The elapse a timer-started run belongs to, from the (sometimes stale) value systemd hands it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.engine.scheduled import scheduled_elapse

T = datetime(2026, 11, 30, 20, 12, tzinfo=UTC)
S = timedelta(seconds=1)


def alert(schedule: str, zone: str = "UTC", shift: int = 0) -> AlertSpec:
    db = DatabaseSpec("sqlite://")
    return AlertSpec("a", "q", schedule, db, calendar_zone=zone, minute_shift=shift)


def test_the_first_firing_gets_its_elapse_not_its_trigger_time() -> None:
    assert scheduled_elapse(alert("* * * * *"), T + 0.4 * S, T + 0.5 * S) == T


def test_a_handed_value_periods_old_is_corrected() -> None:
    """systemd 252 handed a third firing the first one's trigger time (burst bench)."""
    for periods in (1, 2, 50):
        stale = T - periods * 60 * S + 0.39 * S
        assert scheduled_elapse(alert("* * * * *"), stale, T + 0.5 * S) == T
    hourly = alert("17 * * * *")
    assert (
        scheduled_elapse(hourly, T - timedelta(hours=1, minutes=-5), T + 5 * 60 * S)
        == T + 5 * 60 * S
    )


def test_a_launch_measured_a_tick_before_its_elapse_still_belongs_to_it() -> None:
    """The launch is read in 10 ms clock ticks (truncated): it can look a hair early."""
    previous = T - 60 * S
    assert scheduled_elapse(alert("* * * * *"), previous, T - 0.01 * S) == T


def test_a_launch_after_the_next_elapse_counts_against_that_elapse() -> None:
    """The handed value cannot tell which elapse fired; systemd skipped one of the two."""
    previous = T - 60 * S
    assert scheduled_elapse(alert("* * * * *"), previous, T + 70 * S) == T + 60 * S


def test_rare_schedules_and_a_missed_yearly_run() -> None:
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    yearly = alert("0 0 1 1 *")
    assert scheduled_elapse(yearly, new_year - timedelta(days=365), new_year + S) == new_year
    caught_up = new_year + timedelta(days=3)  # Persistent=true: fired at boot, days late
    assert scheduled_elapse(yearly, new_year - timedelta(days=365), caught_up) == new_year


def test_a_leap_day_schedule_reaches_back_years() -> None:
    leap_day = alert("0 0 29 2 *")
    launched = datetime(2026, 3, 1, tzinfo=UTC)
    assert scheduled_elapse(leap_day, launched - S, launched) == datetime(2024, 2, 29, tzinfo=UTC)


def test_schedules_in_a_zone_and_shifted_minutes() -> None:
    paris = alert("0 9 * * *", zone="Europe/Paris")
    nine = datetime(2026, 12, 1, 8, tzinfo=UTC)  # 09:00 CET
    assert scheduled_elapse(paris, nine - timedelta(days=1), nine + 2 * S) == nine
    adelaide = alert("0 * * * *", zone="UTC", shift=30)  # :00 local is :30 UTC there
    half = T.replace(minute=30)
    assert scheduled_elapse(adelaide, half - timedelta(hours=1), half + S) == half


def test_a_manual_run_has_none() -> None:
    assert scheduled_elapse(alert("* * * * *"), None, T) is None


def test_a_fixed_random_delay_is_part_of_the_elapse() -> None:
    previous = T - 60 * S + 17 * S
    assert scheduled_elapse(alert("* * * * *"), previous, T + 18 * S, offset=17) == T + 17 * S
