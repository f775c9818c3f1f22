"""`sqlsentinel daemon --backend local` as a real process, in real time: it fires at the
minute, records the planned instant, serves its probes, catches up, stops cleanly."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemon_http import get
from support import Cli, free_port

from sqlsentinel.state.daemon_state import Heartbeat, record_heartbeat, record_next_runs
from sqlsentinel.state.db import StateDB

LOCKED = "SELECT CASE WHEN count(*) >= 0 THEN 'OK' END AS status FROM sqlite_master"
SLOW_DB = "databases:\n  locked:\n    url: sqlite:///locked.db\nalerts:\n"


def config_text(alerts: dict[str, tuple[str, str]]) -> str:
    body = "".join(
        f"  - name: {name}\n    query: \"{query}\"\n    schedule: '{cron}'\n"
        for name, (query, cron) in alerts.items()
    )
    return f"database:\n  url: sqlite:///t.db\nstate_db: s.db\nalerts:\n{body}"


def history(tmp_path: Path) -> list[dict[str, object]]:
    if not (tmp_path / "s.db").exists():
        return []
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM history ORDER BY id")]
        except sqlite3.OperationalError:
            return []


def wait_for(check, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


@pytest.fixture
def daemon(cli: Cli, tmp_path: Path) -> Iterator[object]:
    sqlite3.connect(tmp_path / "t.db").close()
    procs: list[subprocess.Popen[str]] = []

    def start(text: str, *args: str) -> subprocess.Popen[str]:
        (tmp_path / "alerts.yaml").write_text(text)
        proc = subprocess.Popen(
            [*cli.argv, "daemon", "alerts.yaml", "--backend", "local", *args],
            cwd=tmp_path, env={**cli.env, "RUNTIME_DIRECTORY": str(tmp_path)},
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        procs.append(proc)
        return proc

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_fires_at_the_minute_serves_probes_and_stops_cleanly_mid_check(
    daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`slow` reads a database the test holds locked (SQLite waits up to the alert's timeout),
    so it is mid-check when SIGTERM comes, however loaded the machine, and ends when the
    test lets it: no CPU-bound query whose length depends on the load."""
    port = free_port()
    sqlite3.connect(tmp_path / "locked.db").close()
    lock = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    alerts = {"fast": ("SELECT 'OK' AS status", "* * * * *"), "slow": (LOCKED, "* * * * *")}
    text = config_text(alerts).replace("alerts:\n", SLOW_DB, 1)
    proc = daemon(text + "    database: locked\n    timeout: 10m\n", "--port", str(port))
    assert wait_for(lambda: get(port, "/ready")[0] == 200, 60), proc.stderr
    assert get(port, "/health")[0] == 200
    up = 'sqlsentinel_daemon_up{config="'  # once the first heartbeat is written
    assert wait_for(lambda: up in get(port, "/metrics")[1], 30)
    code, metrics = get(port, "/metrics")
    assert code == 200
    assert 'sqlsentinel_alert_next_run_timestamp_seconds{alert="fast"}' in metrics

    fast = wait_for(lambda: [r for r in history(tmp_path) if r["alert"] == "fast"], 120)
    assert fast, "no run within two minutes"
    row = fast[0]
    scheduled = datetime.fromisoformat(str(row["scheduled_at"]))
    launched = datetime.fromisoformat(str(row["launched_at"]))
    started = datetime.fromisoformat(str(row["started_at"]))
    assert (scheduled.second, scheduled.microsecond, row["triggered_by"]) == (0, 0, "CRON")
    # the daemon starts the check at the minute; the check's own imports come after that
    assert timedelta(0) <= launched - scheduled < timedelta(seconds=5)
    assert launched <= started

    assert not [r for r in history(tmp_path) if r["alert"] == "slow"]  # still running
    proc.send_signal(signal.SIGTERM)
    log = ""
    for line in proc.stderr or ():  # the daemon waits for the running check: let it end
        log += line
        if "waiting up to 8s for " in line:
            break
    lock.rollback()
    lock.close()
    assert proc.wait(timeout=60) == 0
    log += proc.stderr.read() if proc.stderr else ""
    assert [r["outcome"] for r in history(tmp_path) if r["alert"] == "slow"] == ["ok"], log
    assert "check started alert='slow'" in log and "waiting up to 8s for " in log
    assert "check finished alert='slow' exit=0" in log


def test_a_missed_persistent_run_is_caught_up_at_start(daemon, cli: Cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = StateDB(f"sqlite:///{tmp_path / 's.db'}")
    db.ensure_schema()
    missed = datetime(2026, 1, 1, tzinfo=UTC)
    config = str(tmp_path / "alerts.yaml")
    record_heartbeat(
        db,
        Heartbeat(
            config=config,
            pid=1,
            host="h",
            backend="local",
            started_at=missed,
            beat_at=missed,
            interval_s=30.0,
            status="x",
        ),
    )
    record_next_runs(db, config, {"yearly": missed, "lazy": missed})
    query = "SELECT 'OK' AS status"
    lazy = "  - name: lazy\n    query: SELECT 1\n    schedule: '0 0 1 1 *'\n    persistent: false\n"
    proc = daemon(config_text({"yearly": (query, "0 0 1 1 *")}) + lazy)
    rows = wait_for(lambda: history(tmp_path), 20)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert [(r["alert"], r["scheduled_at"]) for r in rows] == [
        ("yearly", "2026-01-01 00:00:00.000000")
    ]
    assert proc.stderr is not None
    ready = next(line for line in proc.stderr.read().splitlines() if " ready: " in line)
    named = datetime.strptime(ready.rsplit(" at ", 1)[1], "%Y-%m-%d %H:%M UTC")
    assert named.replace(tzinfo=UTC) > datetime.now(UTC), (
        ready
    )  # the real next run, not the caught-up one
    status = json.loads(cli("status", "alerts.yaml", "--json").stdout)
    assert {r["alert"] for r in status} == {"yearly", "lazy"}
