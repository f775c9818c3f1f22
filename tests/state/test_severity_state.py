"""Severity in the state database (SQLite and PostgreSQL): the alert's row and history,
an instance's row, and a spooled result, each read back as written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqlsentinel.core.decide import Rule, State, decide
from sqlsentinel.core.instances import Instance, decide_instances, instance_key
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.severity import Severity
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.instances import known_instances, save_instances
from sqlsentinel.state.record import open_run
from sqlsentinel.state.spool import Spool

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> StateDB:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    state = StateDB(str(request.getfixturevalue(name)))
    state.ensure_schema()
    return state


def record(at: datetime, severity: Severity | None, run_id: str) -> RunRecord:
    return RunRecord(run_id, "orders", "CRON", None, None, at, at, "alert", "alert",
                     severity=severity)  # fmt: skip


def test_the_alert_row_and_history_keep_the_severity(db: StateDB) -> None:
    for n, severity in enumerate([Severity.WARNING, Severity.CRITICAL, Severity.CRITICAL]):
        at = T0 + timedelta(minutes=n)
        with open_run(db, "orders", at) as tx:
            t = decide(tx.previous, "alert", Rule(), tx.silenced, at, severity)
            tx.write(record(at, severity, f"r{n}"), t, [], None, told=t.notify is not None)
    with open_run(db, "orders", T0 + timedelta(hours=1)) as tx:
        prev = tx.previous
    assert prev is not None and prev.state is State.ALERT
    assert (prev.severity, prev.notified_severity) == (Severity.CRITICAL, Severity.CRITICAL)
    with db.read() as tx:
        rows = tx.all("SELECT transition, severity FROM history ORDER BY finished_at")
    assert [(r["transition"], r["severity"]) for r in rows] == [
        ("firing", "warning"), ("escalated", "critical"), ("still_firing", "critical"),
    ]  # fmt: skip


def test_an_instance_keeps_its_severity(db: StateDB) -> None:
    key = instance_key([7])
    for n, severity in enumerate([Severity.INFO, Severity.ERROR]):
        at = T0 + timedelta(minutes=n)
        rows = [Instance(key, {"id": 7}, "alert", severity=severity)]
        with db.write() as tx:
            decisions = decide_instances(known_instances(tx, "late"), rows, Rule(),
                                         lambda k: False, "resolve", at)  # fmt: skip
            save_instances(tx, "late", decisions, at)
    assert [d.transition.reason.value for d in decisions] == ["escalated"]
    with db.read() as tx:
        known = known_instances(tx, "late")[key].previous
    assert (known.severity, known.notified_severity) == (Severity.ERROR, Severity.ERROR)


def test_a_spooled_result_keeps_its_severity(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "sqlite:///state.db", str(tmp_path / "alerts.yaml"))
    spool.save(record(T0, Severity.CRITICAL, "r1"))
    keyed = Instance(instance_key([1]), {"id": 1}, "alert", severity=Severity.INFO)
    spool.save(RunRecord("r2", "orders", "CRON", None, None, T0, T0 + timedelta(seconds=1),
                         "alert", "alert", instances=(keyed,)))  # fmt: skip
    [(_, first), (_, second)] = spool.waiting("orders")
    assert first.severity is Severity.CRITICAL
    assert second.severity is None and second.instances is not None
    assert second.instances[0].severity is Severity.INFO
