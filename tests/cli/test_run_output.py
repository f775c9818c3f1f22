"""Where a run's table goes: a person's terminal, pipe or file, never the journal of a tick."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from sqlsentinel.cli.run_cmd import table_wanted

CONFIG = """\
database: {url: "sqlite:///target.db"}
alerts:
  - name: quiet tick
    query: SELECT 'OK' AS status
    schedule: "0 4 * * *"
"""


@pytest.fixture
def tty() -> Iterator[IO[str]]:
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as stream:
        yield stream
    os.close(leader)


@pytest.fixture
def pipe() -> Iterator[IO[str]]:
    read, write = os.pipe()
    with os.fdopen(write, "w") as stream:
        yield stream
    os.close(read)


def _journal_stream(stream: IO[str]) -> str:
    st = os.fstat(stream.fileno())
    return f"{st.st_dev}:{st.st_ino}"


def test_a_terminal_gets_the_table_even_inside_a_unit(tty: IO[str]) -> None:
    assert table_wanted({}, tty)
    assert table_wanted({"INVOCATION_ID": "5f0c" * 8}, tty)  # systemd-run --pty


def test_a_pipe_or_file_outside_systemd_gets_the_table(pipe: IO[str], tmp_path: Path) -> None:
    assert table_wanted({}, pipe)
    with (tmp_path / "out.txt").open("w") as file:
        assert table_wanted({}, file)
        assert table_wanted({"JOURNAL_STREAM": "1:2"}, file)  # inherited, names another stream


def test_under_a_unit_without_a_terminal_nothing_is_printed(pipe: IO[str]) -> None:
    assert not table_wanted({"INVOCATION_ID": "5f0c" * 8}, pipe)
    assert not table_wanted({"JOURNAL_STREAM": _journal_stream(pipe)}, pipe)


def test_run_under_a_unit_logs_one_line_and_prints_nothing(cli, tmp_path: Path) -> None:
    config = tmp_path / "alerts.yaml"
    config.write_text(CONFIG)
    sqlite3.connect(tmp_path / "target.db").close()
    args = ("run", config, "--triggered-by", "CRON")
    ticked = cli(*args, env={"INVOCATION_ID": "5f0c" * 8})
    assert ticked.rc == 0, ticked
    assert ticked.stdout == ""
    (line,) = ticked.stderr.splitlines()
    assert line.startswith("sqlsentinel: run finished alert='quiet tick' ")
    by_hand = cli(*args)  # the same run from a shell, output piped
    assert by_hand.rc == 0, by_hand
    assert by_hand.stdout.splitlines()[1].split()[:3] == ["quiet", "tick", "ok"]
    as_json = cli(*args, "--json", env={"INVOCATION_ID": "5f0c" * 8})  # asked for: printed
    assert as_json.stdout.lstrip().startswith("[")
