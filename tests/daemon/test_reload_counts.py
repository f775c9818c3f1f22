"""One daemon reload does each piece of work once: every cron is parsed once, the machine ID
is read once and `applied.json` is read once (the timetable carries the rest), whichever
backend runs the alerts."""

from __future__ import annotations

import sqlite3
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sqlsentinel.applied import host
from sqlsentinel.applied.store import META, AppliedStore
from sqlsentinel.daemon.backend import Backend
from sqlsentinel.daemon.local import LocalBackend
from sqlsentinel.daemon.sd_notify import Notifier
from sqlsentinel.daemon.supervisor import DaemonSettings, Supervisor
from sqlsentinel.daemon.systemd_backend import SystemdBackend
from sqlsentinel.safedir import Dir
from sqlsentinel.schedule import cron, spacing
from sqlsentinel.systemd.apply import UnitTarget
from sqlsentinel.systemd.units import UnitOptions

SCHEDULES = ("*/5 * * * *", "0 * * * *", "30 2 * * *", "0 9 * * 1")


def write(config: Path, edit: str = "") -> None:
    alerts = "".join(
        f"  - name: a{i}\n    query: SELECT 'OK' AS status{edit}\n    schedule: '{cron_text}'\n"
        f"    timezone: Europe/London\n    jitter: 20s\n"
        for i, cron_text in enumerate(SCHEDULES)
    )
    config.write_text(f"database:\n  url: sqlite:///t.db\nalerts:\n{alerts}")


class Counts:
    """Calls counted while a reload runs."""

    def __init__(self) -> None:
        self.parsed: Counter[str] = Counter()
        self.machine_ids = 0
        self.metadata_reads = 0


def _counting(read: Callable[..., Any], found: Counts) -> Callable[..., Any]:
    def wrapped(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == META:
            found.metadata_reads += 1
        return read(self, *args, **kwargs)

    return wrapped


def backend(kind: str, tmp_path: Path, config: Path) -> Backend:
    """The local backend, or the systemd one writing its units only (no manager needed)."""
    if kind == "local":
        return LocalBackend(2, {}, False)
    options = UnitOptions(False, (sys.executable, "-m", "sqlsentinel"), str(config))
    return SystemdBackend(UnitTarget(tmp_path / "units", options, None))


@pytest.mark.parametrize("kind", ["local", "systemd"])
def test_one_reload_parses_each_cron_and_reads_the_machine_id_and_metadata_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Before the timetable: 8 parses, 8 machine ID reads (12 with the systemd backend) and
    4 reads of applied.json for these 4 alerts."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    write(config)
    store = AppliedStore.for_config(str(config), tmp_path / "state")
    settings = DaemonSettings(
        str(config), f"sqlite:///{tmp_path / 's.db'}", watch=False, environ={}
    )
    sup = Supervisor(settings, store, backend(kind, tmp_path, config), Notifier())
    sup.start()
    try:
        write(config, edit=" -- edited")
        spacing._shortest.cache_clear()  # as on a reload the next day
        with pytest.MonkeyPatch.context() as patch:
            found = Counts()
            _install_counters(patch, found)
            assert sup.reload(forced=False) == "applied"
            sup.step()
        assert found.parsed == Counter(SCHEDULES)
        assert found.machine_ids == 1
        assert found.metadata_reads == 1
        assert set(sup.backend.next_runs(sup.clock())) == {"a0", "a1", "a2", "a3"}
        if kind == "systemd":  # the units were rendered from the same timetable
            assert len(list((tmp_path / "units").glob("sqlsentinel-*.service"))) == 4
    finally:
        sup.stop()
        sup.run()


def _install_counters(patch: pytest.MonkeyPatch, found: Counts) -> None:
    original_parse = cron.parse

    def parse(text: str) -> cron.CronSpec:
        found.parsed[text] += 1
        return original_parse(text)

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("sqlsentinel") and getattr(module, "parse", None) is original_parse:
            patch.setattr(module, "parse", parse)
    original_machine_id = host.machine_id

    def machine_id(path: Path = host.MACHINE_ID) -> bytes:
        found.machine_ids += 1
        return original_machine_id(path)

    patch.setattr(host, "machine_id", machine_id)
    original_read = Dir.read

    def read(self: Dir, name: str, limit: int, *, root_only: bool = False) -> bytes:
        found.metadata_reads += name == META
        return original_read(self, name, limit, root_only=root_only)

    patch.setattr(Dir, "read", read)
    for method in ("read_text", "read_bytes"):
        patch.setattr(Path, method, _counting(getattr(Path, method), found))
