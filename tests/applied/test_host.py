"""The host's side of `jitter`: the machine ID, the manager's uid, the burst warning's place."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqlsentinel.applied import host as offsets
from sqlsentinel.applied.host import burst_warning, machine_id, timer_offset, timer_offsets
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.schedule.jitter import fixed_delay

ID = "3d1219c7c4c5404aaa1f6d2a48adfda4"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ID + "\n", bytes.fromhex(ID)),
        (ID.upper(), bytes.fromhex(ID)),
        ("uninitialized\n", bytes(16)),  # systemd then hashes SD_ID128_NULL
        ("", bytes(16)),
        (ID[:30], bytes(16)),
        ("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", bytes(16)),
    ],
)
def test_machine_id(tmp_path: Path, text: str, expected: bytes) -> None:
    path = tmp_path / "machine-id"
    path.write_text(text)
    assert machine_id(path) == expected
    assert machine_id(tmp_path / "missing") == bytes(16)


def test_timer_offset_hashes_the_unit_name_for_the_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offsets, "machine_id", lambda: bytes.fromhex(ID))
    unit = "sqlsentinel-disk-full-1c2d3e4f"
    monkeypatch.setattr(offsets, "unit_base", lambda name: unit)
    assert timer_offset("Disk full", 30, system=True) == fixed_delay(
        bytes.fromhex(ID), True, 0, f"{unit}.timer", 30
    )
    assert timer_offset("Disk full", 30, system=False) == fixed_delay(
        bytes.fromhex(ID), False, os.getuid(), f"{unit}.timer", 30
    )
    assert timer_offset("Disk full", 0, system=True) == timedelta(0)


def _alert(i: int, **kw: object) -> AlertSpec:
    db = DatabaseSpec("sqlite:///x.db")
    return AlertSpec(f"a{i}", "SELECT 1", "* * * * *", db, line=10 + i, **kw)  # type: ignore[arg-type]


def test_the_burst_warning_names_the_first_enabled_alert_s_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(offsets, "host_cpus", lambda: 1)
    alerts = [_alert(0, enabled=False)] + [_alert(i) for i in range(1, 300)]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert burst_warning(alerts, "alerts.yaml", False, now, "sqlite:///s.db") is None  # 36 CPU-s
    problem = burst_warning(alerts, "alerts.yaml", False, now, "postgresql://h/s")  # 72 CPU-s
    assert problem is not None and (problem.source, problem.line) == ("alerts.yaml", 11)
    assert problem.message.startswith("299 alerts ('a1' and 298 more) start in the same second")
    spread = [_alert(i, jitter=59.0) for i in range(300)]
    assert len(set(timer_offsets(spread, False).values())) == 300
    assert burst_warning(spread, "alerts.yaml", False, now, "postgresql://h/s") is None
