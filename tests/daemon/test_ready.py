"""/ready says whether runs can record their results: a state database truncated under the
daemon, or checks that all exit 4, make it 503; a check on such a database ends quickly."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from daemon_http import get
from support import Cli, free_port

from sqlsentinel.daemon.local import LocalBackend
from sqlsentinel.daemon.scheduler import Tick
from sqlsentinel.state.db import WAL_SWITCH_S

CONFIG = """\
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: a
    query: SELECT 'OK' AS status
    schedule: "0 0 1 1 *"
"""


def _wait(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_a_state_database_truncated_under_the_daemon_is_not_ready(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text(CONFIG)
    sqlite3.connect(tmp_path / "target.db").close()
    port = free_port()
    daemon = subprocess.Popen(
        [*cli.argv, "daemon", "alerts.yaml", "--backend", "local", "--no-reload",
         "--port", str(port)],
        cwd=tmp_path, env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert _wait(lambda: get(port, "/ready")[0] == 200, 60)
        os.truncate(tmp_path / "state.db", 0)  # the daemon keeps its connection open
        assert _wait(lambda: get(port, "/ready")[0] == 503, 30)
        code, why = get(port, "/ready")
        assert code == 503 and "state.db is empty (0 bytes)" in why, why
        began = time.monotonic()
        run = cli("run", "alerts.yaml", "--alert", "a")
        assert run.rc == 4 and "is empty (0 bytes) while another process" in run.stderr, run
        assert time.monotonic() - began < WAL_SWITCH_S + 10  # it was 18.5 s and more
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_checks_that_cannot_record_their_results_make_the_backend_say_so(
    tmp_path: Path,
) -> None:
    backend = LocalBackend(4, {}, False)
    backend.runner.argv_for = lambda alert: ["sh", "-c", "exit 4"]

    for name in ("a", "b", "c"):
        backend.runner.submit(Tick(name, datetime.now(UTC)))
    assert _wait(lambda: backend.runner.reap() >= 0 and len(backend.runner.recent_exits) == 3, 10)
    assert backend.cannot_record() == (
        "the last 3 checks could not record their results (exit 4): see their errors in the log"
    )
    backend.runner.argv_for = lambda alert: ["true"]
    backend.runner.submit(Tick("a", datetime.now(UTC)))
    assert _wait(lambda: backend.runner.reap() >= 0 and backend.cannot_record() is None, 10)
