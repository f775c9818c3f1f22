"""What a crash, a busy state database and a careless operator can do to a run, end to end."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import threading
import time
from pathlib import Path

from notify.servers import HookServer, Reply
from support import Cli, free_port

from sqlsentinel.state.db import StateDB

CONFIG = """
database:
  url: sqlite:///target.db
state_db: {state}
alerts:
  - name: orders
    query: SELECT status FROM flag
    schedule: "*/5 * * * *"
    notify:
      - channel: webhook
        url: {url}
        timeout: 20s
        max_attempts: 1
"""


def _setup(tmp_path: Path, url: str, status: str = "ALERT", state: str = "state.db") -> Path:
    with sqlite3.connect(tmp_path / "target.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS flag (status TEXT)")
        db.execute("DELETE FROM flag")
        db.execute("INSERT INTO flag VALUES (?)", (status,))
    config = tmp_path / "alerts.yaml"
    config.write_text(CONFIG.format(url=url, state=state))
    return config


def _table(tmp_path: Path, sql: str, state: str = "state.db") -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / state) as db:
        return db.execute(sql).fetchall()


def _kill_while_delivering(cli: Cli, config: Path, hook: HookServer) -> None:
    """Start a run whose receiver stalls, and kill -9 it once the request has arrived."""
    hook.replies = [Reply(delay=30)]
    proc = subprocess.Popen(
        [*cli.argv, "run", str(config), "--alert", "orders"],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not hook.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hook.requests, "the run never sent its notification"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_killed_delivery_is_logged_and_taken_over_at_once(
    tmp_path: Path, cli: Cli, hook: HookServer
) -> None:
    config = _setup(tmp_path, hook.url())
    _kill_while_delivering(cli, config, hook)
    # the attempt was on record before it was made; the claim names a process now gone
    assert _table(tmp_path, "SELECT attempt, outcome FROM deliveries") == [(1, "sending")]
    t0 = time.monotonic()
    again = cli("run", config, "--alert", "orders")
    assert again.rc == 0, again.stderr
    assert time.monotonic() - t0 < 10  # not after the killed run's lease of 90 s and more
    first, second = hook.requests
    ids = {r.headers["X-SQLSentinel-Event-Id"] for r in (first, second)}
    assert len(ids) == 1  # at least once, with the same event id (and Idempotency-Key)
    assert _table(tmp_path, "SELECT attempt, outcome FROM deliveries ORDER BY id") == [
        (1, "sending"),
        (2, "delivered"),
    ]


def test_a_resolve_after_a_crash_supersedes_the_firing(
    tmp_path: Path, cli: Cli, hook: HookServer
) -> None:
    config = _setup(tmp_path, hook.url())
    _kill_while_delivering(cli, config, hook)
    _setup(tmp_path, hook.url(), status="OK")
    done = cli("run", config, "--alert", "orders", "--json")
    assert done.rc == 0, done.stderr
    reasons = [json.loads(r.body)["reason"] for r in hook.requests]
    assert reasons == ["firing", "resolved"]  # the last word matches the alert's state
    assert sorted(_table(tmp_path, "SELECT reason, status FROM notifications")) == [
        ("firing", "superseded"),
        ("resolved", "delivered"),
    ]


def test_a_run_that_finds_an_undeliverable_notification_exits_5(
    tmp_path: Path, cli: Cli, hook: HookServer
) -> None:
    config = _setup(tmp_path, hook.url())
    hook.default = Reply(status=503)
    assert cli("run", config, "--alert", "orders").rc == 5
    again = cli("run", config, "--alert", "orders")  # still firing: nothing new to send
    assert again.rc == 5, again.stderr
    hook.default = Reply(status=200)
    assert cli("run", config, "--alert", "orders").rc == 0


def test_a_busy_state_database_is_waited_for(tmp_path: Path, cli: Cli) -> None:
    """A write lock held for 3 s (a burst of runs) delays the run; it does not fail it."""
    config = _setup(tmp_path, f"http://127.0.0.1:{free_port()}/x")
    assert cli("run", config, "--alert", "orders").rc in (0, 5)
    holder = sqlite3.connect(tmp_path / "state.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(3, holder.execute, ("COMMIT",))
    release.start()
    t0 = time.monotonic()
    done = cli("run", config, "--alert", "orders")
    release.join()
    assert done.rc in (0, 5), done.stderr
    assert time.monotonic() - t0 >= 2.5
    assert len(_table(tmp_path, "SELECT id FROM history")) == 2


def test_a_result_that_cannot_be_written_is_recorded_by_the_next_run(
    tmp_path: Path, cli: Cli, hook: HookServer
) -> None:
    (tmp_path / "var").write_text("")  # a file where the state database's folder must be
    config = _setup(tmp_path, hook.url(), state="var/state.db")
    lost = cli("run", config, "--alert", "orders", "--triggered-by", "CRON")
    assert lost.rc == 4, lost.stderr
    assert "the result of this run is kept in" in lost.stderr
    (tmp_path / "var").unlink()  # the state database can be created now
    _setup(tmp_path, hook.url(), status="OK", state="var/state.db")  # the data changed
    back = cli("run", config, "--alert", "orders")
    assert back.rc == 0, back.stderr
    sql = "SELECT outcome, triggered_by, spooled, transition FROM history ORDER BY id"
    rows = _table(tmp_path, sql, "var/state.db")
    assert rows == [("alert", "CRON", 1, "firing"), ("ok", "MANUAL", 0, "resolved")]
    assert [json.loads(r.body)["reason"] for r in hook.requests] == ["resolved"]
    metrics = cli("metrics", "--state-db", "sqlite:///var/state.db").stdout
    assert 'sqlsentinel_runs_recorded_late{alert="orders",outcome="alert"} 1' in metrics


def test_a_new_state_database_is_private(tmp_path: Path, cli: Cli) -> None:
    config = _setup(tmp_path, f"http://127.0.0.1:{free_port()}/x", state="var/db/state.db")
    cli("run", config, "--alert", "orders")
    folder, path = tmp_path / "var" / "db", tmp_path / "var" / "db" / "state.db"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700


def test_dry_run_exits_as_the_run_would(tmp_path: Path, cli: Cli) -> None:
    config = _setup(tmp_path, f"http://127.0.0.1:{free_port()}/x", status="BROKEN")
    done = cli("run", config, "--alert", "orders", "--dry-run")
    assert done.rc == 1, done
    assert "invalid_status" in done.stdout
    assert not (tmp_path / "state.db").exists()


def test_a_schema_version_that_is_not_a_number_is_a_state_db_error(
    tmp_path: Path, cli: Cli
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateDB(url).ensure_schema()
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("UPDATE sqlsentinel_schema SET value = 'two' WHERE key = 'version'")
    for command in ("status", "history", "metrics", "init"):
        done = cli(command, "--state-db", url)
        assert done.rc == 4, (command, done)
        assert "schema version 'two' is not a number" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_state_db_that_is_neither_sqlite_nor_postgresql_is_refused(
    tmp_path: Path, cli: Cli
) -> None:
    for command in ("status", "metrics", "init"):
        done = cli(command, "--state-db", "mysql://u:secret@127.0.0.1/db")
        assert done.rc == 4, (command, done)
        assert "must be SQLite or PostgreSQL, not 'mysql'" in done.stderr
        assert "secret" not in done.stderr
