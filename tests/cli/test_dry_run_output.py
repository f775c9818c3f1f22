"""`run --dry-run` shows people what it found: the value, the threshold, the other columns
of the row, a per-row alert's instances, and what it would send (`-` for nothing)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from support import Cli

CONFIG = """\
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: orders
    query: SELECT 'ALERT' AS status, 42 AS actual_value, 10 AS threshold, 'eu-west' AS region
    schedule: '*/5 * * * *'
    notify:
      - channel: webhook
        url: http://127.0.0.1:9/hook
  - name: quiet
    query: SELECT 'OK' AS status, 0.5 AS actual_value, 3 AS threshold
    schedule: '0 * * * *'
  - name: stock
    key: warehouse
    query: >-
      SELECT 'north' AS warehouse, 'ALERT' AS status, 2 AS actual_value
      UNION ALL SELECT 'south', 'OK', 90
    schedule: '0 * * * *'
"""


def _table(stdout: str) -> dict[str, dict[str, str]]:
    """The table by alert: each row's cells under their header (cells split on 2+ spaces)."""
    import re

    lines = stdout.splitlines()
    header = lines[0].split()
    return {
        (cells := re.split(r"\s{2,}", line.strip()))[0]: dict(zip(header, cells, strict=True))
        for line in lines[1:]
    }


def test_dry_run_table_shows_what_was_found(cli: Cli, tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "target.db").close()
    path = tmp_path / "alerts.yaml"
    path.write_text(CONFIG)
    done = cli("run", path, "--dry-run", env={"COLUMNS": "200"})
    assert done.rc == 0, done.stderr
    table = _table(done.stdout)
    assert table["orders"]["VALUE"] == "42" and table["orders"]["THRESHOLD"] == "10"
    assert table["orders"]["FOUND"] == "region=eu-west"
    assert table["orders"]["WOULD_NOTIFY"] == "webhook POST http://127.0.0.1:9/hook (firing)"
    assert (table["quiet"]["VALUE"], table["quiet"]["THRESHOLD"]) == ("0.5", "3")
    assert table["quiet"]["WOULD_NOTIFY"] == "-"  # nothing to send: not `[]`
    assert table["stock"]["INSTANCES"].startswith("ALERT 1, OK 1")
    assert "[]" not in done.stdout
    rows = {r["alert"]: r for r in json.loads(cli("run", path, "--dry-run", "--json").stdout)}
    assert rows["quiet"]["would_notify"] == [] and rows["orders"]["actual_value"] == 42
    assert rows["orders"]["context"] == {"region": "eu-west"}
    assert not (tmp_path / "state.db").exists() or "orders" not in cli("history", path).stdout
