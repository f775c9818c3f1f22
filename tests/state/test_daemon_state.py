"""The daemon's heartbeat and next runs in the state database (SQLite and PostgreSQL), and
what `metrics`, `status` and `healthcheck` make of them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import Cli

from sqlsentinel.state.daemon_state import (
    Heartbeat,
    read_daemon_status,
    record_heartbeat,
    record_next_runs,
)
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.metrics import metrics_text

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> StateDB:
    state = StateDB(
        str(request.getfixturevalue(f"{'sqlite' if request.param == 'sqlite' else 'pg'}_url"))
    )
    state.ensure_schema()
    return state


def beat(config: str, at: datetime, **kw: object) -> Heartbeat:
    values: dict[str, object] = dict(
        config=config, pid=42, host="h", backend="local", started_at=NOW, beat_at=at,
        interval_s=30.0, status="2 alerts scheduled",
    )  # fmt: skip
    values.update(kw)
    return Heartbeat(**values)  # type: ignore[arg-type]


def test_heartbeats_and_next_runs_round_trip_per_config(db: StateDB) -> None:
    assert read_daemon_status(db) == []
    record_heartbeat(db, beat("/a.yaml", NOW))
    record_heartbeat(db, beat("/a.yaml", NOW + timedelta(seconds=30), applied_sha256="ab" * 32))
    record_heartbeat(db, beat("/b.yaml", NOW, backend="systemd"))
    record_next_runs(db, "/a.yaml", {"x": NOW + timedelta(hours=1), "y": None})
    record_next_runs(db, "/a.yaml", {"x": NOW + timedelta(hours=2)})  # replaces
    record_next_runs(db, "/b.yaml", {"x": NOW})
    (a,) = read_daemon_status(db, "/a.yaml")
    assert a.beat.beat_at == NOW + timedelta(seconds=30) and a.beat.applied_sha256 == "ab" * 32
    assert a.next_runs == {"x": NOW + timedelta(hours=2)}
    assert [d.beat.config for d in read_daemon_status(db)] == ["/a.yaml", "/b.yaml"]


def test_stale_means_should_run_but_silent() -> None:
    from sqlsentinel.state.daemon_state import DaemonStatus

    fresh = DaemonStatus(beat("/a", NOW))
    assert fresh.running(NOW + timedelta(seconds=89)) and not fresh.stale(
        NOW + timedelta(seconds=89)
    )
    assert fresh.stale(NOW + timedelta(seconds=91))
    stopped = DaemonStatus(beat("/a", NOW, stopped_at=NOW))
    assert not stopped.stale(NOW + timedelta(days=1)) and not stopped.running(NOW)


def test_metrics_export_the_daemon_and_next_runs(db: StateDB) -> None:
    record_heartbeat(db, beat("/a.yaml", NOW))
    record_next_runs(db, "/a.yaml", {"x": NOW + timedelta(hours=1)})
    text = metrics_text(db, NOW + timedelta(seconds=10))
    assert 'sqlsentinel_daemon_up{config="/a.yaml",backend="local"} 1' in text
    heartbeat = 'sqlsentinel_daemon_heartbeat_timestamp_seconds{config="/a.yaml",backend="local"}'
    assert f"{heartbeat} {int(NOW.timestamp())}" in text
    assert (
        f'sqlsentinel_alert_next_run_timestamp_seconds{{alert="x"}} {int(NOW.timestamp()) + 3600}'
        in text
    )
    stale = metrics_text(db, NOW + timedelta(minutes=5))
    assert 'sqlsentinel_daemon_up{config="/a.yaml",backend="local"} 0' in stale
    assert "sqlsentinel_alert_next_run_timestamp_seconds{" not in stale


def test_healthcheck_fails_on_a_stale_daemon_and_status_shows_it(cli: Cli, tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nstate_db: s.db\nalerts:\n"
        "  - name: x\n    query: SELECT 'OK' AS status\n    schedule: '0 * * * *'\n"
    )
    db = StateDB(f"sqlite:///{tmp_path / 's.db'}")
    db.ensure_schema()
    now = datetime.now(UTC)
    record_heartbeat(db, beat(str(config), now - timedelta(seconds=5)))
    record_next_runs(db, str(config), {"x": now + timedelta(minutes=30)})
    ok = cli("healthcheck", config)
    assert ok.rc == 0 and "daemon" in ok.stdout and "running (local" in ok.stdout, ok.stdout
    status = cli("status", config, "--json")
    assert "daemon: running (local backend, pid 42 on h" in status.stderr
    assert status.stdout.count((now + timedelta(minutes=30)).isoformat()[:16]) == 1  # next_run
    record_heartbeat(db, beat(str(config), now - timedelta(minutes=10)))
    stale = cli("healthcheck", config)
    assert stale.rc == 6 and "no heartbeat for 6" in stale.stdout, stale.stdout
    assert "daemon: STALE" in cli("status", config).stderr
    record_heartbeat(db, beat(str(config), now - timedelta(minutes=10), stopped_at=now))
    assert cli("healthcheck", config).rc == 0  # stopped cleanly: nothing should be running
