"""The DST policy: zone choice, minute shift, warnings, and systemd's own behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest
from cron_oracle import NOW

from sqlsentinel.schedule.dst import transitions
from sqlsentinel.schedule.timer import Timer
from sqlsentinel.schedule.translate import translate
from sqlsentinel.systemd import analyze as systemd_calendar


@pytest.mark.parametrize(
    ("cron", "zone", "line"),
    [
        ("*/5 * * * *", "America/New_York", "*-*-* *:00..55/5:00 UTC"),
        ("0 * * * *", "Europe/London", "*-*-* *:00:00 UTC"),
        ("0 * * * *", "Australia/Adelaide", "*-*-* *:30:00 UTC"),
        ("0,20 * * * *", "Asia/Kathmandu", "*-*-* *:15,35:00 UTC"),
        ("0 * * * *", "America/St_Johns", "*-*-* *:30:00 UTC"),
        ("0 * 1-30,L * *", "America/New_York", "*-*-01..30 *:00:00 UTC"),
    ],
)
def test_minute_only_schedules_are_emitted_in_utc(cron: str, zone: str, line: str) -> None:
    translation = translate(cron, zone, now=NOW)
    assert translation.on_calendar[0] == line
    assert translation.warnings == ()


def test_a_changing_subhour_offset_keeps_the_zone() -> None:
    translation = translate("0 * * * *", "Australia/Lord_Howe", now=NOW)
    assert translation.on_calendar == ("*-*-* *:00:00 Australia/Lord_Howe",)
    assert translation.warnings == (
        "on 2026-10-04 Australia/Lord_Howe jumps from 02:00 to 02:30: the run at 02:00 is skipped",
    )


def test_spring_forward_warning_names_the_skipped_run() -> None:
    assert translate("30 2 * * *", "America/New_York", now=NOW).warnings == (
        "on 2026-03-08 America/New_York jumps from 02:00 to 03:00: the run at 02:30 is skipped",
    )


def test_fall_back_warning_names_the_run_not_repeated() -> None:
    assert translate("*/15 1 * * *", "America/New_York", now=NOW).warnings == (
        "on 2026-11-01 America/New_York repeats 01:00-02:00 (EDT, then EST): the 4 runs at "
        "01:00-01:45 fire only once, at the first occurrence (EDT), not again in EST",
    )


def test_london_warns_twice_and_only_on_matching_days() -> None:
    assert len(translate("30 1 * * *", "Europe/London", now=NOW).warnings) == 2
    # 2026-03-29 and 2026-10-25 are Sundays: a weekday schedule is not affected
    assert translate("30 1 * * mon-fri", "Europe/London", now=NOW).warnings == ()


def test_warnings_cover_the_next_twelve_months_from_now() -> None:
    later = datetime(2026, 6, 1, tzinfo=UTC)
    (warning,) = translate("30 2 * * *", "America/New_York", now=later).warnings
    assert warning.startswith("on 2027-03-14 America/New_York jumps")


def test_transitions_are_found_to_the_second() -> None:
    found = transitions("Europe/London", NOW, datetime(2027, 1, 1, tzinfo=UTC))
    assert [t.at for t in found] == [
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 1, tzinfo=UTC),
    ]
    assert transitions("Asia/Tokyo", NOW, datetime(2027, 1, 1, tzinfo=UTC)) == []


def test_zone_suffix_and_tz_environment_agree() -> None:
    """The proof runs zones through TZ=; check that against real suffixed lines."""
    base = datetime(2026, 10, 31, 12, tzinfo=UTC)
    crons = ["*/20 0-3 * * *", "30 1 * * 0", "0 1 * * L7", "15 2 * * *"]
    for zone in ("America/New_York", "Europe/London"):
        lines = [line for cron in crons for line in translate(cron, zone, now=NOW).on_calendar]
        bodies = [line.rpartition(" ")[0] for line in lines]
        suffixed = systemd_calendar.next_elapses(lines, base=base, iterations=40)
        via_env = systemd_calendar.next_elapses(bodies, base=base, iterations=40, zone=zone)
        assert suffixed == via_env


def test_systemd_resolves_a_repeated_time_from_inside_the_repeated_hour_like_the_model() -> None:
    """Started during the repeated hour, a timer fires the second pass (as the model says)."""
    base = datetime(2026, 11, 1, 6, 20, tzinfo=UTC)  # 01:20 EST, the second 01:20
    model = Timer.in_zone("*/15 * * * 0", "America/New_York")
    (line,) = translate("*/15 * * * 0", "America/New_York", now=NOW).on_calendar
    (elapses,) = systemd_calendar.next_elapses(
        [line.rpartition(" ")[0]], base=base, iterations=4, zone="America/New_York"
    )
    assert elapses == list(islice(model.iter_after(base), 4))
    assert elapses[0] == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
