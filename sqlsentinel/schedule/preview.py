"""Preview rows for `sqlsentinel schedule`: lines, next runs and warnings per alert.

Next runs come from the alert's `Timer` under the DST policy, i.e. what the timer
built from the emitted lines will do, each delayed by the alert's fixed `jitter` offset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from sqlsentinel.schedule.cron import ScheduleError
from sqlsentinel.schedule.translate import translate


def preview(
    entries: Sequence[tuple[str, str, str | None]],
    count: int,
    now: datetime,
    offsets: Mapping[str, timedelta] | None = None,
) -> list[dict[str, Any]]:
    """One row per (alert name, cron, timezone) with the next `count` runs after `now`.

    `offsets`: each alert's fixed jitter offset (`schedule.jitter.fixed_delay`), by name.
    """
    offsets = offsets or {}
    return [
        _row(name, cron, zone or "UTC", count, now, offsets.get(name, timedelta(0)))
        for name, cron, zone in entries
    ]


def _row(
    name: str, cron: str, zone: str, count: int, now: datetime, offset: timedelta
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "alert": name,
        "cron": cron,
        "timezone": zone,
        "on_calendar": [],
        "offset": offset.total_seconds(),
        "next": [],
        "next_local": [],
        "warnings": [],
        "error": None,
    }
    try:
        translation = translate(cron, zone, now=now)
    except ScheduleError as error:
        row["error"] = str(error)
        return row
    runs = list(islice(translation.timer(offset.total_seconds()).iter_after(now), count))
    local = ZoneInfo(zone)
    row["on_calendar"] = list(translation.on_calendar)
    row["next"] = [t.astimezone(UTC).isoformat().replace("+00:00", "Z") for t in runs]
    row["next_local"] = [t.astimezone(local).isoformat() for t in runs]
    row["warnings"] = list(translation.warnings)
    return row
