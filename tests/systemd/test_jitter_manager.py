"""`jitter` in a real `systemd --user` manager: the offset systemd applies is the one we compute."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from systemd_harness import UserManager, write_config

from sqlsentinel.applied.host import timer_offset
from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.schedule.timer import Timer

pytestmark = pytest.mark.systemd

JITTERED = {  # name: (cron, zone, jitter seconds, as systemctl shows RandomizedDelayUSec)
    "jittered every minute": ("* * * * *", "UTC", 59, "59s"),
    "jittered hourly": ("7 * * * *", "UTC", 1800, "30min"),
    "jittered in Paris": ("15 9 * * *", "Europe/Paris", 5400.5, "1h 30min 500ms"),
}


def _config(workdir: Path) -> Path:
    alerts = "".join(
        f"- name: {name}\n  query: SELECT 'OK' AS status\n  schedule: '{cron}'\n"
        f"  timezone: {zone}\n  jitter: {jitter}\n"
        for name, (cron, zone, jitter, _) in JITTERED.items()
    )
    return write_config(workdir, alerts)


def _next_elapses(units: UserManager) -> dict[str, datetime]:
    """Each timer's next elapse (NextElapseUSecRealtime), to the microsecond."""
    rows = json.loads(units.systemctl("list-timers", "--all", "--output=json"))
    return {
        r["unit"]: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=r["next"])
        for r in rows
    }


def test_systemd_delays_each_timer_by_the_offset_we_compute(
    units: UserManager, workdir: Path
) -> None:
    config = _config(workdir)
    before = datetime.now(UTC)
    units.sqlsentinel("install-units", "--user", str(config))
    after = datetime.now(UTC)
    timer_text = (units.unit_dir / f"{unit_base('jittered in Paris')}.timer").read_text()
    assert "RandomizedDelaySec=5400500000us\nFixedRandomDelay=yes\n" in timer_text
    elapses = _next_elapses(units)
    for name, (cron, zone, jitter, shown) in JITTERED.items():
        timer = f"{unit_base(name)}.timer"
        offset = timer_offset(name, jitter, system=False)
        assert timedelta(0) < offset < timedelta(seconds=jitter)
        model = Timer.in_zone(cron, zone)
        # a fresh timer counts from the moment it started, somewhere during install-units
        expected = {model.next_after(moment) for moment in (before, after)}
        elapse = elapses[timer]
        assert elapse in {t + offset for t in expected if t is not None}, (name, elapse, offset)
        assert units.show(timer, "RandomizedDelayUSec", "FixedRandomDelay") == {
            "RandomizedDelayUSec": shown,
            "FixedRandomDelay": "yes",
        }


def test_schedule_shows_the_offset_for_the_chosen_manager(
    units: UserManager, workdir: Path
) -> None:
    config = _config(workdir)
    rows = json.loads(units.sqlsentinel("schedule", "--user", str(config), "--json").stdout)
    system_rows = json.loads(
        units.sqlsentinel("schedule", "--system", str(config), "--json").stdout
    )
    for row, system_row in zip(rows, system_rows, strict=True):
        cron, zone, jitter, _ = JITTERED[row["alert"]]
        offset = timer_offset(row["alert"], jitter, system=False)
        assert (row["manager"], row["offset"]) == ("user", offset.total_seconds())
        assert system_row["manager"] == "system"
        assert (
            system_row["offset"] == timer_offset(row["alert"], jitter, system=True).total_seconds()
        )
        assert system_row["offset"] != row["offset"]
        first = datetime.fromisoformat(row["next"][0])
        assert first - offset == Timer.in_zone(cron, zone).next_after(
            first - offset - timedelta(seconds=1)
        )
