"""`sqlsentinel metrics --textfile` read by a real node_exporter (Debian's
prometheus-node-exporter 1.5, textfile collector on loopback): every sqlsentinel_ series
exposed, no parse error (issue 17.15)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Cli, check_exposition, free_port

NODE_EXPORTER = "prometheus-node-exporter"
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


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def series(lines: list[str]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample as (name, sorted labels) -> value: node_exporter sorts labels and writes
    values its own way (1.796653713281936e+09), so the text differs, the samples do not."""
    out = {}
    for line in lines:
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        out[name, tuple(sorted(LABEL.findall(labels)))] = float(value)
    return out


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return str(r.read().decode())


@pytest.fixture
def textfile_dir(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """node_exporter with only its textfile collector, reading a fresh folder."""
    folder = tmp_path / "node-exporter"
    folder.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
         f"--collector.textfile.directory={folder}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                scrape(port)
                break
            except OSError:
                assert time.monotonic() < deadline, "node_exporter did not answer in 20 s"
                time.sleep(0.05)
        yield folder, port
    finally:
        proc.terminate()
        proc.wait(10)


def test_node_exporter_exposes_the_textfile_without_errors(
    cli: Cli, tmp_path: Path, textfile_dir: tuple[Path, int]
) -> None:
    folder, port = textfile_dir
    with sqlite3.connect(tmp_path / "target.db") as target:
        target.execute("CREATE TABLE flag (status TEXT)")
        target.execute("INSERT INTO flag VALUES ('ALERT')")
        target.execute("CREATE TABLE k (id TEXT, status TEXT)")
        target.executemany(
            "INSERT INTO k VALUES (?, 'ALERT')", [("a",), ("a\x1b[31m",), ('q"\\',), ("é 漢",)]
        )
    config = tmp_path / "alerts.yaml"
    config.write_text(CONFIG)
    assert cli("run", config).rc == 0
    written = cli("metrics", config, "--textfile", folder / "sqlsentinel.prom")
    assert written.rc == 0, written.stderr
    ours = check_exposition((folder / "sqlsentinel.prom").read_bytes())
    exposed = scrape(port)
    assert "node_textfile_scrape_error 0\n" in exposed
    assert f'node_textfile_mtime_seconds{{file="{folder / "sqlsentinel.prom"}"}}' in exposed
    served = series([line for line in exposed.split("\n") if line.startswith("sqlsentinel_")])
    assert served == series(ours)  # every series, with its value
    assert served["sqlsentinel_runs_total", (("alert", "orders"), ("outcome", "alert"))] == 1
    assert sum(name == "sqlsentinel_alert_instance_firing" for name, _ in served) == 4
    assert "# TYPE sqlsentinel_runs_total counter\n" in exposed
    assert [p.name for p in folder.iterdir()] == ["sqlsentinel.prom"]  # no temporary file left
