"""Human tables fit the terminal: `status`, `history` and `deliveries` at COLUMNS=80, CJK
names aligned by display cells, short local times (full ISO in --json), --wide for all of
it, and `status` in the config's order with the silence and each alert's last run."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from notify.servers import HookServer
from support import Cli
from wcwidth import wcswidth

LONG = "nightly_reconciliation_of_payment_provider_settlements_against_the_ledger"
CJK = "支払い失敗の検知"  # 8 characters, 16 cells


def config_text(hook: str) -> str:
    return f"""\
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: zeta_orders
    query: SELECT 'ALERT' AS status, 7 AS actual_value, 5 AS threshold
    schedule: '*/5 * * * *'
    notify:
      - channel: webhook
        url: {hook}/a/very/long/path/that/names/the/receiver/of/this/alert/and/more
  - name: {CJK}
    query: SELECT 'OK' AS status, 0.25 AS actual_value
    schedule: '0 * * * *'
  - name: {LONG}
    query: SELECT 'OK' AS status, 'a value with quite a lot of words in it' AS actual_value
    schedule: '0 3 * * *'
  - name: alpha
    query: SELECT 'OK' AS status
    schedule: '0 * * * *'
"""


@pytest.fixture
def config(cli: Cli, tmp_path: Path) -> Path:
    hook = HookServer()
    try:
        sqlite3.connect(tmp_path / "target.db").close()
        path = tmp_path / "alerts.yaml"
        path.write_text(config_text(hook.url()))
        done = cli("run", path)
        assert done.rc == 0, done.stderr
    finally:
        hook.close()
    why = ("--reason", "database maintenance", "--by", "ana")
    done = cli("silence", path, "--alert", "alpha", "--duration", "2h", *why)
    assert done.rc == 0, done.stderr
    return path


def cells(line: str) -> int:
    return int(wcswidth(line))


def test_tables_fit_80_columns(cli: Cli, config: Path) -> None:
    for command in ("status", "history", "deliveries"):
        done = cli(command, config, env={"COLUMNS": "80"})
        assert done.rc == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) > 1 and max(map(cells, lines)) <= 80, (command, done.stdout)
        assert all(line.split()[0] for line in lines)
    status = cli("status", config, env={"COLUMNS": "80"}).stdout
    assert LONG[:8] in status and LONG not in status and "…" in status  # cut, visibly
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+|\+00:00", status)  # no microseconds, no ISO
    deliveries = cli("deliveries", config, env={"COLUMNS": "80"}).stdout
    assert "/a/very/long/path" not in deliveries and "…" in deliveries


def test_cjk_names_align_by_display_cells(cli: Cli, config: Path) -> None:
    """Every later column starts at the same cell, whatever the width of the name's characters."""
    for args in (("--wide",), ()):
        lines = cli("status", config, *args, env={"COLUMNS": "80"}).stdout.splitlines()
        starts = {
            cells(line[: line.index(s)]) for line, s in zip(lines, _states(lines), strict=True)
        }
        assert len(starts) == 1, lines
        cjk = next(line for line in lines if line.startswith(CJK[:4]))
        assert cells(cjk[: cjk.index("OK")]) == cells(lines[0][: lines[0].index("STATE")])


def _states(lines: list[str]) -> list[str]:
    """The text of the STATE column on each line: the header, then each row's state."""
    return ["STATE", *(re.search(r"  (ALERT|OK)  ", line).group(1) for line in lines[1:])]  # type: ignore[union-attr]


def test_wide_shows_every_column_and_value_whole(cli: Cli, config: Path) -> None:
    narrow = cli("status", config, env={"COLUMNS": "80"}).stdout
    wide = cli("status", config, "--wide", env={"COLUMNS": "80"}).stdout
    header = wide.splitlines()[0].split()
    assert header == [
        "ALERT", "STATE", "SEVERITY", "SINCE", "REASON", "VALUE", "INSTANCES", "NEXT_RUN",
        "LAST_RUN", "SILENCED", "MISSED_RUN", "UNDELIVERED",
    ]  # fmt: skip
    assert LONG in wide and "a value with quite a lot of words in it" in wide and "…" not in wide
    assert max(map(cells, wide.splitlines())) > 80 >= max(map(cells, narrow.splitlines()))
    deliveries = cli("deliveries", config, "--wide", env={"COLUMNS": "80"}).stdout
    (event_id,) = {r["event_id"] for r in json.loads(cli("deliveries", config, "--json").stdout)}
    assert event_id in deliveries and "/a/very/long/path/that/names/the/receiver" in deliveries


def test_times_are_short_and_local_and_json_keeps_them_whole(cli: Cli, config: Path) -> None:
    tokyo = {"TZ": "Asia/Tokyo"}
    (row,) = [r for r in json.loads(cli("status", config, "--json").stdout) if r["alert"] == CJK]
    since = datetime.fromisoformat(row["since"])
    assert since.microsecond and since.utcoffset() is not None  # --json: the exact instant
    local = since.astimezone(ZoneInfo("Asia/Tokyo"))
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    short = local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M")
    line = next(x for x in cli("status", config, env=tokyo).stdout.splitlines() if CJK in x)
    assert short in line.split()
    wide = next(
        x for x in cli("status", config, "--wide", env=tokyo).stdout.splitlines() if CJK in x
    )
    assert local.strftime("%Y-%m-%d %H:%M:%S") in wide


def test_status_in_config_order_with_silence_reason_and_last_run(cli: Cli, config: Path) -> None:
    rows = json.loads(cli("status", config, "--json").stdout)
    assert [r["alert"] for r in rows] == ["zeta_orders", CJK, LONG, "alpha"]
    assert all(r["last_run"] == r["last_run_at"] is not None for r in rows)  # no timer to ask
    assert rows[3]["silence_reason"] == "database maintenance"
    lines = cli("status", config, env={"COLUMNS": "200"}).stdout.splitlines()
    names = ["ALERT", "zeta_orders", CJK, LONG, "alpha"]
    assert [x.split()[0][:40] for x in lines] == [n[:40] for n in names]
    assert "LAST_RUN" in lines[0].split()
    last_run = lines[0].index("LAST_RUN")
    assert all(re.match(r"\d\d:\d\d:\d\d|\d{4}-", x[last_run:]) for x in lines[1:] if CJK not in x)
    alpha = lines[4]
    assert "(database maintenance, by ana)" in alpha and "silenced until" in alpha
    wide = cli("status", config, "--wide").stdout.splitlines()[4]
    assert "(database maintenance, by ana)" in wide


def test_a_wide_character_is_never_split_across_the_column_edge() -> None:
    """A cut that would end inside a two-cell character leaves a cell of padding instead."""
    from sqlsentinel.cli.table import Column, render

    rows = [{"name": CJK, "n": 1}, {"name": "abcdefghij", "n": 2}]
    lines = render(rows, [Column("name"), Column("n")], width=11)  # NAME gets 8 cells, N 1
    assert [cells(x[: x.rindex(" ") + 1]) for x in lines] == [10, 10, 10]
    assert lines[1].startswith("支払い…   1") and lines[2].startswith("abcdefg…  2")
