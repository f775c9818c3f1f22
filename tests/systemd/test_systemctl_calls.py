"""systemctl at scale, without timing: install, status and uninstall ask a real manager a
bounded number of cheap questions (a fixed few, plus one per batch of units), never the
per-unit `systemctl show` that makes the manager load and scan every unit
(bench/bench_units.py measures the manager's CPU)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from systemd_harness import UserManager, logging_systemctl, write_config

from sqlsentinel.applied.accept import build_timetable
from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.config.loader import load_file
from sqlsentinel.systemd.install import apply, plan_install, plan_uninstall
from sqlsentinel.systemd.systemctl import Systemctl, covering_pattern
from sqlsentinel.systemd.timers import installed_timer_info
from sqlsentinel.systemd.units import UnitOptions, render_alert

pytestmark = pytest.mark.systemd
BATCH = 4


def _alerts(count: int) -> str:
    good = "".join(
        f"- name: alert {i}\n  query: SELECT 'OK' AS status\n  schedule: '{i} 3 * * *'\n"
        for i in range(count - 1)
    )
    return good + "- name: broken\n  query: SELECT nonsense\n  schedule: '0 4 * * *'\n"


def _calls(log: Path) -> list[str]:
    """The systemctl subcommands logged so far (the log is then emptied)."""
    words = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    log.unlink(missing_ok=True)
    return [next(w for w in line if not w.startswith("-")) for line in words]


@pytest.fixture
def manager_env(user_manager: UserManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """In-process systemctl calls reach the test manager through a logging shim; small batches."""
    for key in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "HOME", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.setenv(key, user_manager.env[key])
    path, log = logging_systemctl(tmp_path, user_manager)
    monkeypatch.setenv("PATH", path)
    monkeypatch.setattr(Systemctl, "BATCH", BATCH)
    return log


@pytest.mark.parametrize("count", [3, 10])
def test_install_status_uninstall_make_a_fixed_number_of_calls_per_batch(
    units: UserManager, workdir: Path, manager_env: Path, count: int
) -> None:
    config = write_config(workdir, _alerts(count))
    loaded = load_file(str(config))
    options = UnitOptions(False, (sys.executable, "-m", "sqlsentinel"), str(config))
    timetable = build_timetable(loaded, options.launch, None, None, None)
    rendered = [
        render_alert(a, entry, options)
        for a, entry in zip(loaded.alerts, timetable.alerts, strict=True)
    ]
    systemctl = Systemctl(user=True)
    batches = math.ceil(count / BATCH)

    apply(plan_install(units.unit_dir, str(config), rendered), systemctl)
    assert _calls(manager_env) == ["daemon-reload"] + ["start"] * batches

    broken = unit_base("broken") + ".service"
    units.systemctl("start", broken, check=False)  # the query fails: the service is failed
    assert units.show(broken, "ActiveState")["ActiveState"] == "failed"
    info = installed_timer_info([a.name for a in loaded.alerts], str(config))
    assert len(info) == count and all(t["next"] is not None for t in info.values())
    assert _calls(manager_env) == ["list-timers"]

    apply(plan_uninstall(units.unit_dir, None), systemctl)
    # one listing, the running timers stopped per batch, the failed service reset, one reload
    assert _calls(manager_env) == [
        "list-units",
        *["stop"] * batches,
        "reset-failed",
        "daemon-reload",
    ]
    listed = json.loads(units.systemctl("list-units", "--all", "--output=json", "sqlsentinel-*"))
    assert listed == []  # nothing left loaded, nothing left failed
    assert units.systemctl("list-units", "--failed", "--plain", "--no-legend").strip() == ""


SLOW = """
- name: slow
  query: >-
    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000000)
    SELECT 'OK' AS status FROM (SELECT count(*) FROM n)
  schedule: '0 4 * * *'
"""


def test_a_run_in_progress_is_stopped_and_leaves_nothing_failed(
    units: UserManager, workdir: Path, manager_env: Path
) -> None:
    config = write_config(workdir, SLOW)
    units.sqlsentinel("install-units", "--user", str(config))
    service = unit_base("slow") + ".service"
    units.systemctl("start", "--no-block", service)
    assert units.show(service, "ActiveState")["ActiveState"] == "activating"
    manager_env.unlink(missing_ok=True)
    apply(plan_uninstall(units.unit_dir, None), Systemctl(user=True))
    # stopped mid-run, the oneshot ends failed (Result=signal): listed again, then reset
    assert _calls(manager_env) == [
        "list-units",
        "stop",
        "list-units",
        "reset-failed",
        "daemon-reload",
    ]
    assert units.systemctl("list-units", "--failed", "--plain", "--no-legend").strip() == ""


def test_one_glob_covers_every_name_and_stops_before_glob_characters() -> None:
    assert covering_pattern(["sqlsentinel-a-1.timer", "sqlsentinel-b-2.service"]) == "sqlsentinel-*"
    assert covering_pattern(["x.timer"]) == "x.timer*"
    assert covering_pattern([r"a\x2db.timer", r"a\x2dc.timer"]) == "a*"
    assert covering_pattern(["one.timer", "two.timer"]) == "*"
