"""In real time, with a real `systemd --user` manager: an every-minute alert whose timer is
stopped by hand turns `healthcheck` red, naming the alert and the tick it missed."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from systemd_harness import UserManager, write_config

from sqlsentinel.applied.unit_names import unit_base

pytestmark = pytest.mark.systemd
NAME = "stopped by hand"  # its own units: timer stamps outlive the test
ALERT = f"""
- name: {NAME}
  query: SELECT 'OK' AS status
  schedule: "* * * * *"
  stale_after: 3s
"""


def last_run(workdir: Path) -> datetime:
    with sqlite3.connect(workdir / "state.db") as db:
        (value,) = db.execute(
            "SELECT last_run_at FROM alert_state WHERE alert = ?", (NAME,)
        ).fetchone()
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def healthcheck(units: UserManager, config: Path) -> tuple[int, dict[str, dict[str, object]]]:
    done = units.sqlsentinel("healthcheck", str(config), "--json", check=False)
    return done.returncode, {r["check"]: r for r in json.loads(done.stdout)}


def test_a_stopped_timer_turns_healthcheck_red(units: UserManager, workdir: Path) -> None:
    config = write_config(workdir, ALERT)
    units.sqlsentinel("install-units", "--user", str(config))
    service, timer = unit_base(NAME) + ".service", unit_base(NAME) + ".timer"
    units.systemctl("stop", timer)  # stopped by hand: nothing runs the alert any more
    deadline = time.monotonic() + 30
    while units.show(service, "ActiveState")["ActiveState"] != "inactive":
        assert time.monotonic() < deadline, "a run the timer started did not end"
        time.sleep(0.2)
    units.systemctl("start", service)  # one run, as the timer would start it
    ran = last_run(workdir)
    tick = ran.replace(second=0, microsecond=0) + timedelta(minutes=1)

    rc, rows = healthcheck(units, config)
    if datetime.now(UTC) < tick:  # (unless the minute turned meanwhile)
        assert rc == 0, rows
        assert rows["missed runs"]["ok"] is True

    time.sleep(max(0.0, (tick - datetime.now(UTC)).total_seconds()) + 4)
    rc, rows = healthcheck(units, config)
    assert rc == 6, rows
    row = rows[f"alert {NAME}"]
    assert row["ok"] is False
    assert str(row["detail"]).startswith(f"stale: missed its run at {tick:%Y-%m-%d %H:%M:%S} UTC;")
    assert last_run(workdir) == ran  # the tick really was missed

    units.systemctl("start", service)  # it runs again: green
    assert healthcheck(units, config)[0] == 0
