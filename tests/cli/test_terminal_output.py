"""What reaches a terminal: values from the database are shown, never obeyed.

A check's query can return anything; a terminal obeys ESC sequences (colours, OSC "set
window title"), CR rewinds a line, BEL rings, U+202E reverses what follows. Human tables
show such characters escaped (`\\x1b`, `\\u202e`) while `--json` keeps every value exact.
Each command runs with its stdout on a real pseudo-terminal, as a person sees it.
"""

from __future__ import annotations

import json
import os
import pty
import re
import sqlite3
import subprocess
import tty
from pathlib import Path

import pytest
from support import Cli

HOSTILE = "\x1b]0;owned\x07\x1b[31mred\x1b[0m\rback\x00nul\x9bcsi\u202egnp.exe\u2066x\u2069"
ESCAPED = r"\x1b]0;owned\x07\x1b[31mred\x1b[0m\rback\x00nul\x9bcsi\u202egnp.exe\u2066x\u2069"
# Every C0 and C1 control but the line feed that ends a line, DEL, and bidi controls.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)

CONFIG = """\
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: plain
    query: SELECT 'ALERT' AS status, value AS actual_value, value AS threshold FROM hostile
    schedule: '*/5 * * * *'
  - name: keyed
    key: id
    query: SELECT value AS id, 'ALERT' AS status, value AS actual_value FROM hostile
    schedule: '*/5 * * * *'
  - name: broken
    query: SELECT value AS status FROM hostile
    schedule: '*/5 * * * *'
"""


def on_a_terminal(cli: Cli, *args: str | Path, both: bool = True) -> tuple[int, str]:
    """Run the CLI with stdout (and stderr, unless not `both`) on a pseudo-terminal in raw
    mode (no newline translation): its exit code and every character written there."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        proc = subprocess.Popen(
            [*cli.argv, *map(str, args)], cwd=cli.cwd, env={**cli.env, "COLUMNS": "400"},
            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave if both else subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=120), out.decode()


@pytest.fixture
def config(cli: Cli, tmp_path: Path) -> Path:
    with sqlite3.connect(tmp_path / "target.db") as db:
        db.execute("CREATE TABLE hostile (value TEXT)")
        db.execute("INSERT INTO hostile VALUES (?)", (HOSTILE,))
    path = tmp_path / "alerts.yaml"
    path.write_text(CONFIG)
    done = cli("run", path)
    assert done.rc == 1, done.stderr  # `broken` found no status it knows
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "--alert", "plain"),
        ("status", "--alert", "keyed"),
        ("history",),
        ("run", "--dry-run"),
    ],
    ids=" ".join,
)
def test_database_values_reach_a_terminal_escaped(
    cli: Cli, config: Path, args: tuple[str, ...]
) -> None:
    rc, shown = on_a_terminal(cli, *args[:1], config, *args[1:])
    assert rc in (0, 1), shown
    assert RAW_CONTROL.findall(shown) == []
    assert ESCAPED in shown or ESCAPED[:40] in shown  # the value, visibly, at least its start


def test_json_keeps_the_values_exact(cli: Cli, config: Path) -> None:
    rc, shown = on_a_terminal(cli, "status", config, "--alert", "plain", "--json", both=False)
    assert rc == 0
    assert RAW_CONTROL.findall(shown) == []  # escaped the JSON way, which decodes to the same
    (row,) = json.loads(shown)
    assert row["last_value"] == HOSTILE and row["last_threshold"] == HOSTILE
    rc, shown = on_a_terminal(cli, "status", config, "--alert", "keyed", "--json", both=False)
    (instance,) = json.loads(shown)
    assert instance["key_values"] == {"id": HOSTILE}
