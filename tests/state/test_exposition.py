"""The text exposition: values as Prometheus writes them, label values escaped by the format's
rules, the bytes written unchanged, and `promtool check metrics` (Debian's prometheus) clean
on `sqlsentinel metrics` and its textfile (issues 17.14, 18.6)."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import Cli, check_exposition

from sqlsentinel import __version__
from sqlsentinel.core.decide import Rule, decide
from sqlsentinel.core.run import RunRecord
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.metrics import label_value, metrics_text, sample_value
from sqlsentinel.state.record import open_run

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (7.0, "7"),
        (-3.0, "-3"),
        (0.2937, "0.2937"),
        (1796652650.630317, "1796652650.630317"),
        (1e300, "1e+300"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_sample_values_as_prometheus_writes_them(value: float, text: str) -> None:
    assert sample_value(value) == text


def test_label_values_escape_what_the_format_escapes() -> None:
    assert label_value('a\\b"c\nd\x1b[31m\r') == 'a\\\\b\\"c\\nd\x1b[31m\r'


def test_lateness_shows_without_binary_noise(sqlite_url: str) -> None:
    """293.7 ms used to show as 0.29369999999999996."""
    db = StateDB(sqlite_url)
    db.ensure_schema()
    launched = T0 + timedelta(milliseconds=293.7)
    rec = RunRecord(
        run_id=uuid.uuid4().hex, alert="a", triggered_by="CRON", scheduled_at=T0,
        launched_at=launched, started_at=launched, finished_at=launched + timedelta(seconds=1),
        outcome="ok", condition="ok", actual_value=0.1 + 0.2,
    )  # fmt: skip
    with open_run(db, "a", rec.finished_at) as tx:
        tx.write(rec, decide(tx.previous, "ok", Rule(), False, rec.finished_at), [], None)
    text = metrics_text(db, T0 + timedelta(minutes=1))
    assert 'sqlsentinel_alert_last_run_lateness_seconds{alert="a"} 0.2937\n' in text
    assert 'sqlsentinel_alert_last_value{alert="a"} 0.30000000000000004\n' in text  # the data's
    assert f'sqlsentinel_build_info{{version="{__version__}"}} 1\n' in text
    check_exposition(text.encode())


CONFIG = """\
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: orders
    query: SELECT status, 0.2937 AS actual_value FROM flag
    schedule: "*/15 * * * *"
  - name: by_key
    key: [id]
    query: SELECT id, status FROM k
    schedule: "*/15 * * * *"
"""
KEYS = ["a", "a\x1b[31m", "a\x1b]0;title\x07", 'q"b\\n', "x\ny", "Paiements échoués"]


def test_piped_metrics_keep_every_byte_and_pass_promtool(cli: Cli, tmp_path: Path) -> None:
    """Two instances that differ only in escape sequences stay two series (click.echo used to
    strip them from piped output), and promtool accepts both outputs."""
    with sqlite3.connect(tmp_path / "target.db") as target:
        target.execute("CREATE TABLE flag (status TEXT)")
        target.execute("INSERT INTO flag VALUES ('ALERT')")
        target.execute("CREATE TABLE k (id TEXT, status TEXT)")
        target.executemany("INSERT INTO k VALUES (?, 'ALERT')", [(k,) for k in KEYS])
    config = tmp_path / "alerts.yaml"
    config.write_text(CONFIG)
    assert cli("run", config).rc == 0
    assert cli("run", config, "--alert", "orders").rc == 0
    piped = subprocess.run(
        [*cli.argv, "metrics", str(config)], cwd=tmp_path, env=cli.env, capture_output=True
    )
    assert piped.returncode == 0, piped.stderr
    samples = check_exposition(piped.stdout)
    firing = [s for s in samples if s.startswith("sqlsentinel_alert_instance_firing{")]
    assert len(firing) == len(KEYS)
    for key in KEYS:
        assert f'id="{label_value(key)}"}} 1'.encode() in piped.stdout
    assert 'sqlsentinel_runs_total{alert="orders",outcome="alert"} 2' in samples
    assert 'sqlsentinel_alert_last_value{alert="orders"} 0.2937' in samples
    textfile = tmp_path / "prom" / "sqlsentinel.prom"
    textfile.parent.mkdir()
    assert cli("metrics", config, "--textfile", textfile).rc == 0
    written = check_exposition(textfile.read_bytes())
    moving = "sqlsentinel_alert_seconds_since_last_run{"
    assert [s for s in written if not s.startswith(moving)] == [
        s for s in samples if not s.startswith(moving)
    ]
