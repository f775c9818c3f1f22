"""The spec cache decides what `run --alert` executes, so nothing in it is taken on trust."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import REPO

from sqlsentinel.config import loader
from sqlsentinel.config.run_loader import load_for_run
from sqlsentinel.config.spec_cache import SpecCache, cache_root

CONFIG = """\
database:
  url: sqlite:////tmp/spec-cache-test.db
alerts:
  - name: disk_full
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict[str, str], Path]:
    config = tmp_path / "sentinel.yaml"
    config.write_text(CONFIG)
    root = tmp_path / "cache"
    return config, {"SQLSENTINEL_CACHE_DIR": str(root)}, root


class FullLoads:
    """Counts full loads (the cache did not answer)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = loader.load_text

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(loader, "load_text", counting)


def query(config: Path, env: dict[str, str]) -> str:
    (alert,) = load_for_run(str(config), ["disk_full"], env).alerts
    return alert.query


def entry_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def test_the_cache_answers_a_second_run(setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config, env, root = setup
    loads = FullLoads(monkeypatch)
    query(config, env)
    query(config, env)
    assert loads.count == 1 and len(entry_files(root)) == 2  # settings + the alert


def test_an_edited_entry_is_never_taken_for_ours(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env, root = setup
    query(config, env)
    (alert_file,) = [p for p in entry_files(root) if p.parent.name == "alerts"]
    mac, _, body = alert_file.read_bytes().partition(b"\n")
    planted = json.loads(body)
    planted["spec"]["query"] = "DELETE FROM important"
    alert_file.write_bytes(mac + b"\n" + json.dumps(planted).encode())  # the old MAC kept
    loads = FullLoads(monkeypatch)
    assert query(config, env) == "SELECT 'OK' AS status"
    assert loads.count == 1  # refused, loaded in full, and rewritten:
    assert query(config, env) == "SELECT 'OK' AS status" and loads.count == 1


def test_an_entry_of_another_config_is_not_ours_either(
    setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env, _ = setup
    query(config, env)
    other = tmp_path / "other.yaml"
    other.write_text(CONFIG.replace("SELECT 'OK' AS status", "SELECT 'ALERT' AS status"))
    query(other, env)
    ours, theirs = (
        next(SpecCache(str(path), path.read_bytes(), env).group.glob("*/alerts"))
        for path in (config, other)
    )
    for planted in theirs.iterdir():  # move the other config's signed files into our entry
        shutil.copy(planted, ours / planted.name)
    loads = FullLoads(monkeypatch)
    assert query(config, env) == "SELECT 'OK' AS status" and loads.count == 1


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_a_folder_others_may_write_is_ignored(
    setup: Any, mode: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env, root = setup
    query(config, env)
    root.chmod(mode)
    loads = FullLoads(monkeypatch)
    query(config, env)
    query(config, env)
    assert loads.count == 2
    assert stat.S_IMODE(root.stat().st_mode) == mode  # left as it is, and not written to


def test_files_others_may_write_or_read_are_ignored(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env, root = setup
    query(config, env)
    (root / "key").chmod(0o644)  # anyone could sign entries with it
    loads = FullLoads(monkeypatch)
    query(config, env)
    (root / "key").chmod(0o600)
    (alert_file,) = [p for p in entry_files(root) if p.parent.name == "alerts"]
    alert_file.chmod(0o666)
    query(config, env)
    assert loads.count == 2


def test_a_folder_of_another_user_is_ignored(setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config, env, _ = setup
    query(config, env)
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 4242)  # we are someone else
    loads = FullLoads(monkeypatch)
    query(config, env)
    assert loads.count == 1


@pytest.mark.parametrize(
    ("environ", "root"),
    [
        ({"HOME": "/home/ann"}, "/home/ann/.cache/sqlsentinel"),
        ({"HOME": "/home/ann", "XDG_CACHE_HOME": "/c"}, "/c/sqlsentinel"),
        ({"HOME": "/home/ann", "XDG_CACHE_HOME": "rel"}, "/home/ann/.cache/sqlsentinel"),
        ({"CACHE_DIRECTORY": "/var/cache/sqlsentinel"}, "/var/cache/sqlsentinel/compiled"),
        ({}, None),  # no HOME: no cache at all (never /tmp)
        ({"HOME": "relative"}, None),
        ({"XDG_CACHE_HOME": "rel"}, None),
    ],
)
def test_never_a_shared_folder(environ: dict[str, str], root: str | None) -> None:
    found = cache_root(environ)
    assert (str(found) if found else None) == root


def test_without_home_every_run_loads_in_full_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "t.db").touch()
    config = tmp_path / "sentinel.yaml"
    config.write_text(CONFIG.replace("/tmp/spec-cache-test.db", str(tmp_path / "t.db")))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    shared = SpecCache(str(config), b"", {"HOME": "/tmp"}).group  # where it went before
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "sqlsentinel", "run", str(config), "--alert", "disk_full",
             "--state-db", f"sqlite:///{tmp_path / 'state.db'}"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert not shared.exists()
    assert not list(tmp_path.rglob("key"))


def test_a_burst_of_cold_runs_loads_the_file_once(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs missing the cache together: one validates and fills it, the others wait and
    read it (the burst bench's first tick after an edit: 300 full loads became one)."""
    import threading
    import time

    config, env, _root = setup
    real = loader.load_text

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # a big config: long enough for every other run to arrive
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "load_text", slow)
    loads = FullLoads(monkeypatch)
    answers: list[str] = []
    runs = [threading.Thread(target=lambda: answers.append(query(config, env))) for _ in range(8)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert answers == ["SELECT 'OK' AS status"] * 8
    assert loads.count == 1
