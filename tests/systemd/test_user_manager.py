"""install-units against a real `systemd --user` manager (see conftest.py)."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from systemd_harness import UserManager, logging_systemctl, write_config

from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.core.budget import unit_timeout
from sqlsentinel.schedule.preview import preview
from sqlsentinel.systemd.timers import timer_info

pytestmark = pytest.mark.systemd

SEVERAL = """
- name: Disk full
  query: SELECT 'OK' AS status
  schedule: "17 3 * * *"
- name: "Évènement 漢字 #2"
  query: SELECT 'OK' AS status
  schedule: "0 9 * * 1-5"
  timezone: Europe/Paris
- name: orders stalled (EU)
  query: SELECT 'OK' AS status
  schedule: "30 */2 * * *"
  timeout: 40
- name: month start
  query: SELECT 'OK' AS status
  schedule: "0 0 1 * *"
  timezone: America/New_York
"""
CRONS = {
    "Disk full": ("17 3 * * *", None),
    "Évènement 漢字 #2": ("0 9 * * 1-5", "Europe/Paris"),
    "orders stalled (EU)": ("30 */2 * * *", None),
    "month start": ("0 0 1 * *", "America/New_York"),
}


def _history(workdir: Path) -> list[tuple[str, str]]:
    if not (workdir / "state.db").exists():
        return []
    with sqlite3.connect(workdir / "state.db") as db:
        return db.execute("SELECT alert, triggered_by FROM history ORDER BY id").fetchall()


def _timers(units: UserManager) -> dict[str, int]:
    rows = json.loads(units.systemctl("list-timers", "--all", "--output=json"))
    return {r["unit"]: r["next"] for r in rows if r["unit"].startswith("sqlsentinel-")}


def _install(units: UserManager, config: Path, *extra: str, path: str | None = None) -> str:
    env = dict(units.env, PATH=path) if path else units.env
    old, units.env = units.env, env
    try:
        return units.sqlsentinel("install-units", "--user", str(config), *extra).stderr
    finally:
        units.env = old


def _snapshot(unit_dir: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in unit_dir.glob("sqlsentinel-*")}


def test_list_timers_shows_each_alert_with_the_previewed_next_run(
    units: UserManager, workdir: Path
) -> None:
    config = write_config(workdir, SEVERAL)
    _install(units, config)
    listing = units.systemctl("list-timers")
    now = datetime.now(UTC)
    expected = {
        unit_base(name) + ".timer": preview([(name, cron, tz)], 1, now)[0]["next"][0]
        for name, (cron, tz) in CRONS.items()
    }
    for unit in expected:
        assert unit in listing
    listed = {
        unit: datetime.fromtimestamp(usec / 1e6, UTC).isoformat().replace("+00:00", "Z")
        for unit, usec in _timers(units).items()
    }
    assert listed == expected
    info = timer_info(sorted(expected), user=True)
    assert {u: i["next"].isoformat().replace("+00:00", "Z") for u, i in info.items()} == expected
    status = json.loads(units.sqlsentinel("status", str(config), "--json").stdout)
    assert {unit_base(r["alert"]) + ".timer": r["next_run"] for r in status} == {
        unit: next_run.replace("Z", "+00:00") for unit, next_run in expected.items()
    }
    timer = unit_base("Disk full") + ".timer"
    assert units.systemctl("is-enabled", timer).strip() == "enabled"
    props = units.show(timer, "AccuracyUSec", "Persistent")
    assert props == {"AccuracyUSec": "1s", "Persistent": "yes"}
    service = unit_base("orders stalled (EU)") + ".service"
    # 40 s query + 120 s start-up allowance + 2 s grace + 60 s delivery + 5 s slack
    assert unit_timeout(40) == 227
    assert units.show(service, "TimeoutStartUSec")["TimeoutStartUSec"] == "3min 47s"


def test_starting_a_service_records_a_cron_run_and_logs_to_the_journal(
    units: UserManager, workdir: Path
) -> None:
    config = write_config(workdir, SEVERAL)
    _install(units, config)
    base = unit_base("Évènement 漢字 #2")
    units.systemctl("start", base + ".service")  # oneshot: returns when the run finished
    assert _history(workdir) == [("Évènement 漢字 #2", "CRON")]
    assert units.show(base + ".service", "Result")["Result"] == "success"
    journal = units.in_namespace("journalctl", "--no-pager", "-t", base).stdout
    assert "triggered_by=CRON" in journal


def test_every_minute_alert_fires_by_itself(units: UserManager, workdir: Path) -> None:
    config = write_config(
        workdir,
        """
        - name: every minute
          query: SELECT 'OK' AS status
          schedule: "* * * * *"
        """,
    )
    _install(units, config)
    timer = unit_base("every minute") + ".timer"
    deadline = time.monotonic() + 75
    while not _history(workdir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _history(workdir) == [("every minute", "CRON")]
    last = timer_info([timer], user=True)[timer]["last"]
    assert last is not None and last.second <= 2  # AccuracySec=1s: fired at hh:mm:00(+1)
    # the run records when its timer elapsed (TRIGGER_TIMER_REALTIME_USEC), so lateness shows
    (row,) = json.loads(units.sqlsentinel("history", str(config), "--json").stdout)
    scheduled = datetime.fromisoformat(row["scheduled_at"])
    assert scheduled.second <= 2 and abs(scheduled - last) < timedelta(seconds=1)
    launched = datetime.fromisoformat(row["launched_at"])
    assert scheduled <= launched <= datetime.fromisoformat(row["started_at"])  # before imports
    assert 0 <= row["lateness_ms"] < 30_000
    assert row["lateness_ms"] == pytest.approx((launched - scheduled).total_seconds() * 1000, abs=1)
    metrics = units.sqlsentinel("metrics", str(config)).stdout
    assert 'sqlsentinel_alert_last_run_lateness_seconds{alert="every minute"}' in metrics


def test_removed_or_disabled_alert_loses_its_timer_and_files(
    units: UserManager, workdir: Path
) -> None:
    keep = """
    - name: keep
      query: SELECT 'OK' AS status
      schedule: "0 * * * *"
    """
    gone = """
    - name: gone soon
      query: SELECT 'OK' AS status
      schedule: "5 * * * *"
    """
    disabled = """
    - name: switched off
      query: SELECT 'OK' AS status
      schedule: "5 * * * *"
      enabled: false
    """
    foreign = units.unit_dir / "sqlsentinel-not-ours.timer"
    units.unit_dir.mkdir(parents=True, exist_ok=True)
    foreign.write_text("[Timer]\nOnCalendar=daily\n")
    config = write_config(workdir, keep + gone)
    _install(units, config)
    assert set(_timers(units)) == {unit_base("keep") + ".timer", unit_base("gone soon") + ".timer"}

    write_config(workdir, keep + disabled.replace("switched off", "gone soon"))
    _install(units, config)
    assert set(_timers(units)) == {unit_base("keep") + ".timer"}
    base = unit_base("gone soon")
    assert not list(units.unit_dir.rglob(base + ".*"))
    assert units.show(base + ".timer", "LoadState")["LoadState"] == "not-found"
    assert units.systemctl("list-units", "--failed", "--plain", "--no-legend").strip() == ""
    assert foreign.read_text() == "[Timer]\nOnCalendar=daily\n"
    foreign.unlink()


def test_installing_twice_writes_nothing_and_one_change_writes_one_file(
    units: UserManager, workdir: Path, tmp_path: Path
) -> None:
    alerts = """
    - name: first
      query: SELECT 'OK' AS status
      schedule: "0 * * * *"
    - name: second
      query: SELECT 'OK' AS status
      schedule: "10 * * * *"
    """
    config = write_config(workdir, alerts)
    _install(units, config)
    before = _snapshot(units.unit_dir)
    path, log = logging_systemctl(tmp_path, units)

    assert "nothing changed" in _install(units, config, path=path)
    calls = log.read_text().splitlines()  # one listing: every timer runs, nothing to start
    assert [c.split(" -- ")[0].split()[-3] for c in calls] == ["list-units"]
    assert _snapshot(units.unit_dir) == before
    log.unlink()

    write_config(workdir, alerts.replace('"10 * * * *"', '"20 * * * *"'))
    _install(units, config, path=path)
    after = _snapshot(units.unit_dir)
    changed = {name for name in after if after[name] != before.get(name)}
    second = unit_base("second")
    assert changed == {second + ".timer"}
    calls = log.read_text().splitlines()
    assert sum("daemon-reload" in c for c in calls) == 1
    assert [c for c in calls if " start " in f" {c} "] == [
        f"--user --no-pager --no-ask-password start -- {second}.timer"
    ]
    next_run = datetime.fromtimestamp(_timers(units)[second + ".timer"] / 1e6, UTC)
    assert next_run.minute == 20


def test_injection_in_name_and_description_is_escaped(units: UserManager, workdir: Path) -> None:
    pwned = workdir / "pwned"  # writable by the services (their state DB's folder), not in /tmp
    name = 'evil" ; $HOME %h \\ ; ExecStartPre=/bin/false'  # if injected, the run fails
    yaml_name = json.dumps(name)  # a JSON string is a valid YAML scalar
    config = write_config(
        workdir,
        f"""
        - name: {yaml_name}
          description: |
            text
            ExecStartPre=/usr/bin/touch {pwned}
            Environment=X=%h $HOME \\
          query: SELECT 'OK' AS status
          schedule: "0 4 * * *"
        """,
    )
    _install(units, config)
    base = unit_base(name)
    files = [str(units.unit_dir / f"{base}.{kind}") for kind in ("timer", "service")]
    verify = units.run("systemd-analyze", "--user", "verify", "--man=no", *files, check=False)
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", "")
    description = units.show(base + ".timer", "Description")["Description"]
    assert description == (
        f'SQL Sentinel alert "{name}": text ExecStartPre=/usr/bin/touch {pwned} '
        "Environment=X=%h $HOME"
    )
    units.systemctl("start", base + ".service")
    assert _history(workdir) == [(name, "CRON")]
    assert not pwned.exists()
    assert units.show(base + ".service", "Environment")["Environment"] == ""


def test_uninstall_removes_everything_it_installed(units: UserManager, workdir: Path) -> None:
    config = write_config(workdir, SEVERAL)
    _install(units, config)
    assert len(_timers(units)) == 4
    units.sqlsentinel("uninstall-units", "--user")
    assert _timers(units) == {}
    assert not list(units.unit_dir.rglob("sqlsentinel-*"))
    assert not (units.unit_dir / ".sqlsentinel-manifest.json").exists()
    assert units.systemctl("list-units", "--failed", "--plain", "--no-legend").strip() == ""


@pytest.fixture(autouse=True)
def _manager_environment(user_manager: UserManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process calls (timer_info) reach the test manager, not the machine's."""
    for key in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "HOME", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.setenv(key, user_manager.env[key])
