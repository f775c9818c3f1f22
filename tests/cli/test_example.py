"""The README's first command: the demo database and examples/alerts.yaml, run for real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from support import REPO, Cli


def test_the_example_runs_and_finds_the_late_warehouses(cli: Cli, tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    shutil.copytree(REPO / "examples", examples, ignore=shutil.ignore_patterns("*.db"))
    subprocess.run([sys.executable, examples / "make_demo_db.py"], check=True, capture_output=True)
    done = cli("run", examples / "alerts.yaml", "--json")
    assert done.rc == 0, done
    runs = {r["alert"]: r for r in json.loads(done.stdout)}
    assert set(runs) == {"failed_payments", "order_volume", "warehouse_freshness"}
    assert runs["warehouse_freshness"]["instances"]["counts"] == {"ALERT": 2, "PENDING": 0, "OK": 3}
    lines = json.loads(cli("status", examples / "alerts.yaml", "--alert", "warehouse_freshness",
                           "--json").stdout)  # fmt: skip
    firing = {r["key"]: r["context"]["warehouse"] for r in lines if r["state"] == "ALERT"}
    assert firing == {"warehouse_id=2": "Porto", "warehouse_id=5": "Graz"}
