"""Several daemons on one PostgreSQL state database start runs of the same alert at once:
a run exits 5 only for a notification it attempted and could not deliver, or one that no
live run holds, never for one another run is delivering."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import psycopg
from notify.servers import HookServer, Reply
from support import Cli

CONFIG = """\
database:
  url: sqlite:///target.db
state_db: {state}
alerts:
  - name: flaps
    query: "SELECT CASE WHEN abs(random()) % 2 = 0 THEN 'ALERT' ELSE 'OK' END AS status"
    schedule: "* * * * *"
    notify:
      - channel: webhook
        url: {url}
"""


def test_concurrent_runs_exit_5_only_for_what_they_could_not_deliver(
    cli: Cli, tmp_path: Path, hook: HookServer, pg_url: str
) -> None:
    sqlite3.connect(tmp_path / "target.db").close()
    (tmp_path / "alerts.yaml").write_text(CONFIG.format(state=pg_url, url=hook.url()))
    hook.default = Reply(delay=0.3)  # every delivery takes a while: others run meanwhile
    assert cli("run", "alerts.yaml").rc in (0, 5)  # the schema, before the crowd
    codes = []
    for _ in range(4):  # waves of 6 runs at once, as 6 daemons' ticks would be
        procs = [
            subprocess.Popen([*cli.argv, "run", "alerts.yaml", "--triggered-by", "CRON"],
                             cwd=tmp_path, env=cli.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(6)
        ]  # fmt: skip
        codes += [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [(rc, err) for rc, err in codes if rc != 0] == []
    with psycopg.connect(pg_url.replace("+psycopg", "")) as c:
        left = c.execute("SELECT status, count(*) FROM notifications GROUP BY status").fetchall()
    assert dict(left).keys() <= {"delivered", "superseded"}, left
