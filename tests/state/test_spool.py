"""The spool: a result kept for the next run is recorded only by a run of the same alert,
from the same config, on the same state database; what is not such a result is set aside,
and nothing found in the folder can make a run hang."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notify.servers import HookServer
from support import Cli

from sqlsentinel.state.db import StateDB

CONFIG = """\
database:
  url: sqlite:///{name}.db
state_db: {state}
alerts:
  - name: orders
    query: SELECT status FROM flag
    schedule: "*/5 * * * *"
    notify:
      - channel: webhook
        url: {url}
"""


def _config(tmp_path: Path, name: str, status: str, url: str, state: str) -> Path:
    with sqlite3.connect(tmp_path / f"{name}.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS flag (status TEXT)")
        db.execute("DELETE FROM flag")
        db.execute("INSERT INTO flag VALUES (?)", (status,))
    path = tmp_path / f"{name}.yaml"
    path.write_text(CONFIG.format(name=name, state=state, url=url))
    return path


def _history(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT outcome, spooled FROM history ORDER BY id").fetchall()


def test_another_configs_spooled_result_is_never_recorded_here(
    tmp_path: Path, cli: Cli, hook: HookServer
) -> None:
    (tmp_path / "a").write_text("")  # config A's state database cannot be created: it spools
    a = _config(tmp_path, "a", "ALERT", hook.url("/a"), "a/state.db")
    lost = cli("run", a, "--alert", "orders")
    assert lost.rc == 4 and "the result of this run is kept in" in lost.stderr, lost
    b = _config(tmp_path, "b", "OK", hook.url("/b"), "b/state.db")
    done = cli("run", b, "--alert", "orders")
    assert done.rc == 0, done
    assert _history(tmp_path / "b" / "state.db") == [("ok", 0)]
    assert hook.requests == []  # B's receiver hears of nothing that never fired there
    (tmp_path / "a").unlink()  # A's state database is back: A's own next run records it
    assert cli("run", a, "--alert", "orders").rc == 0
    assert _history(tmp_path / "a" / "state.db") == [("alert", 1), ("alert", 0)]


def test_files_that_are_not_valid_results_are_set_aside_and_never_block_a_run(
    tmp_path: Path, cli: Cli, hook: HookServer
) -> None:
    from sqlsentinel.state.spool import Spool

    config = _config(tmp_path, "c", "OK", hook.url(), "state.db")
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    spool = Spool(Path(cli.env["STATE_DIRECTORY"]) / "spool", db.identity, str(config))
    folder = spool.folder("orders")
    folder.mkdir(parents=True)
    os.mkfifo(folder / "1-fifo.json")  # reading it would wait for a writer forever
    (folder / "2-zero.json").symlink_to("/dev/zero")  # reading it would never end
    (folder / "3-huge.json").write_bytes(b" " * (17 * 1024 * 1024))
    (folder / "4-garbage.json").write_text("{not json")
    then = datetime.now(UTC) - timedelta(minutes=5)
    good = {
        "format": 2, "state_db": db.identity, "config": str(config), "alert": "orders",
        "run_id": "ab" * 16, "triggered_by": "CRON", "scheduled_at": None, "launched_at": None,
        "started_at": then.isoformat(), "finished_at": then.isoformat(),
        "outcome": "alert", "condition": "alert",
    }  # fmt: skip
    (folder / "5-outcome.json").write_text(json.dumps({**good, "outcome": "pwned"}))
    (folder / "6-other.json").write_text(json.dumps({**good, "alert": "other"}))
    (folder / "7-elsewhere.json").write_text(json.dumps({**good, "state_db": "sqlite:///x"}))
    (folder / "8-good.json").write_text(json.dumps(good))
    done = cli("run", config, "--alert", "orders", timeout=60)
    assert done.rc == 0, done
    assert _history(tmp_path / "state.db") == [("alert", 1), ("ok", 0)]
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{n}.json.bad" for n in
        ("1-fifo", "2-zero", "3-huge", "4-garbage", "5-outcome", "6-other", "7-elsewhere")
    ]  # fmt: skip
    assert done.stderr.count("spool: set aside") == 7
    again = cli("run", config, "--alert", "orders")  # set aside once: never tried again
    assert again.rc == 0 and "spool" not in again.stderr, again
