"""Every rejected construct, with its exact reason and hint."""

# ruff: noqa: E501  (the messages are compared verbatim)

from __future__ import annotations

import pytest

from sqlsentinel.schedule.translate import ScheduleError, translate

REJECTED = [
    ("0 0 ?,L * *", "`?` must be the whole day-of-month field, not part of `?,L`", "write `*`"),
    ("0 0 * * ?,L5", "`?` must be the whole day-of-week field, not part of `?,L5`", "write `*`"),
    (
        "",
        "the schedule is empty",
        "write five fields `minute hour day-of-month month day-of-week`, e.g. `0 * * * *`, or `@hourly`",
    ),
    (
        "@reboot",
        "`@reboot` has no calendar equivalent: systemd's OnBootSec= also fires when the timer is started after boot",
        "use a calendar schedule such as `@hourly`, or run the alert from a boot-time unit",
    ),
    (
        "@every 1h",
        "`@every 1h` is an interval (robfig/cron), not a calendar schedule",
        "write a cron step instead, e.g. `*/5 * * * *` (every 5 minutes) or `0 */2 * * *` (every 2 hours)",
    ),
    (
        "@fortnightly",
        "unknown macro `@fortnightly`",
        "use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, or five fields `minute hour day-of-month month day-of-week`",
    ),
    ("@daily 5", "`@daily` takes no arguments", "write just `@daily`"),
    (
        "0 */5 * * * *",
        "6 fields given; only 5-field cron is accepted, because dialects disagree whether a sixth or seventh field means seconds or year",
        "drop the extra fields and write five fields `minute hour day-of-month month day-of-week`",
    ),
    (
        "0 0 1 1 * 2027",
        "6 fields given; only 5-field cron is accepted, because dialects disagree whether a sixth or seventh field means seconds or year",
        "drop the extra fields and write five fields `minute hour day-of-month month day-of-week`",
    ),
    (
        "0 0 *",
        "only 3 fields given",
        "write five fields `minute hour day-of-month month day-of-week`, e.g. `0 * * * *`",
    ),
    ("1,,2 * * * *", "empty item in the minute field `1,,2`", "remove the extra comma"),
    ("*/0 * * * *", "step 0 in the minute field `*/0`", "use a step of at least 1, e.g. `*/5`"),
    (
        "5/15 * * * *",
        "`5/15` in the minute field has a step but no range, which cron (cronie) rejects",
        "write `5-59/15`",
    ),
    (
        "59/15 * * * *",
        "`59/15` in the minute field has a step but no range, which cron (cronie) rejects",
        "write `59`",
    ),
    (
        "0 22-2 * * *",
        "range `22-2` in the hour field runs backwards: cronie matches nothing with it and other dialects wrap around",
        "split it into two ranges, e.g. `22-23,0-2`",
    ),
    (
        "0 0 * * 6-1",
        "range `6-1` in the day-of-week field runs backwards: cronie matches nothing with it and other dialects wrap around",
        "split it into two ranges, e.g. `6,0-1`",
    ),
    (
        "0 0 * * 5-2",
        "range `5-2` in the day-of-week field runs backwards: cronie matches nothing with it and other dialects wrap around",
        "split it into two ranges, e.g. `5-6,0-2`",
    ),
    (
        "61 * * * *",
        "`61` is out of range for the minute field (0-59)",
        "use a value between 0 and 59",
    ),
    (
        "0 24 * * *",
        "`24` is out of range for the hour field (0-23)",
        "use a value between 0 and 23",
    ),
    (
        "0 0 0 * *",
        "`0` is out of range for the day-of-month field (1-31)",
        "use a value between 1 and 31",
    ),
    (
        "0 0 1 13 *",
        "`13` is out of range for the month field (1-12)",
        "use a value between 1 and 12",
    ),
    (
        "0 0 * * 8",
        "`8` is out of range for the day-of-week field (0-7)",
        "use a value between 0 and 7",
    ),
    (
        "0 0 * * monday",
        "`monday` is not a valid day-of-week name: cron accepts only 3-letter names",
        "write `mon`",
    ),
    (
        "0 0 1 january *",
        "`january` is not a valid month name: cron accepts only 3-letter names",
        "write `jan`",
    ),
    (
        "0 0 * * xyz",
        "`xyz` is not a valid day-of-week value",
        "use numbers 0-7, or names `sun`-`sat`, `*`, ranges `a-b` and steps `/n`",
    ),
    (
        "0 mon * * *",
        "`mon` is not a valid hour value",
        "use numbers 0-23, `*`, ranges `a-b` and steps `/n`",
    ),
    (
        "0 9 15W * *",
        "`15W` (nearest weekday) in the day-of-month field is not supported: it is not standard cron and dialects disagree at month edges",
        "list the days explicitly, e.g. `15`, or use `L` for the last day of the month",
    ),
    (
        "0 0 LW * *",
        "`LW` (nearest weekday) in the day-of-month field is not supported: it is not standard cron and dialects disagree at month edges",
        "list the days explicitly, e.g. `15`, or use `L` for the last day of the month",
    ),
    (
        "0 0 L-3 * *",
        "`L-3` in the day-of-month field is not supported: only a plain `L` (last day of the month) is",
        "use `L`, or list the days explicitly",
    ),
    (
        "H * * * *",
        "`H` in the minute field is a hashed value (Jenkins), not cron syntax",
        "pick a fixed value, e.g. `17`",
    ),
    (
        "0~30 * * * *",
        "`0~30` in the minute field picks a random value, which is not deterministic",
        "pick a fixed value, e.g. `17`",
    ),
    (
        "? * * * *",
        "`?` is only allowed as the whole day-of-month or day-of-week field, not in the minute field",
        "write `*`",
    ),
    (
        "30 23 1-7 JAN MON-FRI#1",
        "`MON-FRI#1` in the day-of-week field: `#` needs a single weekday before it",
        "write one item per weekday, e.g. `mon#1,tue#1`",
    ),
    (
        "0 0 1-7 * 5#3",
        "`5#3` in the day-of-week field cannot be combined with a restricted day-of-month (`1-7`): cron dialects disagree whether that means AND or OR",
        "set the day-of-month to `*`, or use two alerts",
    ),
    (
        "0 0 L * L5",
        "`L5` in the day-of-week field cannot be combined with a restricted day-of-month (`L`): cron dialects disagree whether that means AND or OR",
        "set the day-of-month to `*`, or use two alerts",
    ),
    (
        "0 0 * * 5#6",
        "`5#6` in the day-of-week field: the number after `#` must be 1-5",
        "write e.g. `fri#3` for the third Friday of the month",
    ),
    (
        "0 0 * * L",
        "`L` alone in the day-of-week field is ambiguous (Quartz reads it as Saturday)",
        "write `sat`, or `L5` for the last Friday of the month",
    ),
    (
        "0 0 31 2 *",
        "`0 0 31 2 *` never fires: day 31 does not occur in feb",
        "pick a day that exists in that month (February has at most 29 days; April, June, September and November have 30), or use `L` for the last day of the month",
    ),
    (
        "0 0 31 4,6,9,11 *",
        "`0 0 31 4,6,9,11 *` never fires: day 31 does not occur in apr, jun, sep, nov",
        "pick a day that exists in that month (February has at most 29 days; April, June, September and November have 30), or use `L` for the last day of the month",
    ),
    (
        "*-5 * * * *",
        "`*-5` is not a valid minute value",
        "use numbers 0-59, `*`, ranges `a-b` and steps `/n`",
    ),
]


@pytest.mark.parametrize(("cron", "reason", "hint"), REJECTED)
def test_rejected_with_reason_and_hint(cron: str, reason: str, hint: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        translate(cron)
    assert (caught.value.reason, caught.value.hint) == (reason, hint)
    assert str(caught.value) == f"{reason}; {hint}"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "america/new_york", "../etc/passwd", "UTC+2"])
def test_unknown_time_zone_is_rejected(zone: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        translate("0 * * * *", zone)
    assert caught.value.reason == f"unknown time zone `{zone}`"
    assert caught.value.hint == "use an IANA name such as `Europe/London`, or `UTC`"


def test_schedule_error_is_a_value_error() -> None:
    assert issubclass(ScheduleError, ValueError)


@pytest.mark.parametrize(
    ("cron", "item", "field"),
    [
        ("\u0665 * * * *", "\u0665", "minute"),  # ARABIC-INDIC DIGIT FIVE was read as minute 5
        ("0 \u0661\u0662 * * *", "\u0661\u0662", "hour"),
        ("0 0 \uff11-5 * *", "\uff11-5", "day-of-month"),  # FULLWIDTH DIGIT ONE
        ("*/\u0665 * * * *", "*/\u0665", "minute"),
        ("0 0 * * L\u0665", "L\u0665", "day-of-week"),
    ],
)
def test_only_ascii_digits_are_numbers(cron: str, item: str, field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        translate(cron)
    assert caught.value.reason == f"`{item}` is not a valid {field} value"
    with pytest.raises(ScheduleError, match="needs a single weekday"):
        translate("0 0 * * \u0665#2")
