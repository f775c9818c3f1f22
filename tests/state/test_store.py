"""The state store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select

from sqlsentinel.core.decide import Reason, Rule, State, Transition, decide
from sqlsentinel.core.run import RunRecord
from sqlsentinel.errors import StateDBError
from sqlsentinel.state import listings, outbox
from sqlsentinel.state import silences as sil
from sqlsentinel.state.db import StateDB, _set_version
from sqlsentinel.state.record import OutboxEntry, open_run
from sqlsentinel.state.schema import MIGRATIONS, SCHEMA_VERSION, history, silences

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ALL_TABLES = {
    "sqlsentinel_schema",
    "alert_state",
    "history",
    "silences",
    "notifications",
    "deliveries",
    "daemon_heartbeat",
    "daemon_next_run",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def db(url: str) -> StateDB:
    state = StateDB(url)
    state.ensure_schema()
    return state


def rec(alert: str, condition: str, at: datetime, outcome: str | None = None) -> RunRecord:
    return RunRecord(
        run_id=uuid.uuid4().hex,
        alert=alert,
        triggered_by="CRON",
        scheduled_at=None,
        started_at=at - timedelta(seconds=1),
        finished_at=at,
        outcome=outcome or condition,
        condition=condition,
        actual_value=7,
        context={"region": "eu"},
    )


def record_run(
    db: StateDB, rec: RunRecord, rule: Rule, make_events: Any, retention: float | None
) -> tuple[Any, Transition, list[OutboxEntry]]:
    """What the engine does around the store: lock, decide, write."""
    with open_run(db, rec.alert, rec.finished_at) as tx:
        t = decide(tx.previous, rec.condition, rule, tx.silenced, rec.finished_at)
        entries = make_events(tx.previous, t) if t.notify else []
        tx.write(rec, t, entries, retention)
    return tx.previous, t, entries


def one_event(prev: Any, t: Any) -> list[OutboxEntry]:
    return [OutboxEntry(uuid.uuid4().hex, "webhook", "http://hook", 0, t.notify.value, {})]


def no_events(prev: Any, t: Any) -> list[OutboxEntry]:
    return []


def test_fresh_database_gets_the_whole_schema(url: str) -> None:
    state = StateDB(url)
    assert state.schema_version() == 0
    assert state.ensure_schema() == (0, SCHEMA_VERSION)
    assert state.schema_version() == SCHEMA_VERSION == 3
    assert set(inspect(state.engine).get_table_names()) >= ALL_TABLES


def test_init_twice_and_concurrently_is_safe(url: str) -> None:
    errors: list[BaseException] = []

    def init() -> None:
        try:
            StateDB(url).ensure_schema()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=init) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    state = StateDB(url)
    assert state.ensure_schema() == (SCHEMA_VERSION, SCHEMA_VERSION)
    with state.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlsentinel_schema").scalar() == 1


def test_cli_init_twice(url: str, cli) -> None:
    first = cli("init", "--state-db", url)
    assert (first.rc, first.stdout.strip()) == (0, "created state database schema v3"), first
    second = cli("init", "--state-db", url)
    assert (second.rc, second.stdout.strip()) == (0, "state database is up to date (schema v3)")
    assert StateDB(url).schema_version() == 3


def test_upgrade_from_v1_keeps_rows(url: str) -> None:
    state = StateDB(url)
    with state.write() as conn:
        MIGRATIONS[0](conn)
        _set_version(conn, 1)
    assert state.schema_version() == 1
    assert "notifications" not in inspect(state.engine).get_table_names()
    record_run(state, rec("a", "alert", T0), Rule(), no_events, None)
    sil.add_silence(state, "a", T0, T0 + timedelta(hours=1), "maint", "ops")

    assert state.ensure_schema() == (1, SCHEMA_VERSION)
    assert state.schema_version() == 3
    assert set(inspect(state.engine).get_table_names()) >= ALL_TABLES
    [row] = listings.history_rows(state, ["a"])
    assert (row["outcome"], row["state"], row["context"]) == ("alert", "ALERT", {"region": "eu"})
    assert sil.active_silences(state, T0)["a"]["reason"] == "maint"
    # the new tables work
    record_run(state, rec("a", "ok", T0 + timedelta(hours=2)), Rule(), no_events, None)


def test_newer_schema_is_refused_clearly(db: StateDB, url: str) -> None:
    with db.write() as conn:
        _set_version(conn, SCHEMA_VERSION + 1)
    with pytest.raises(StateDBError, match=r"schema v4, newer than .*\(v3\); upgrade sqlsentinel"):
        StateDB(url).ensure_schema()


def test_record_run_writes_state_and_history(db: StateDB) -> None:
    prev, t, entries = record_run(db, rec("a", "alert", T0), Rule(), one_event, None)
    assert prev is None and t.state is State.ALERT and len(entries) == 1
    prev, t, entries = record_run(
        db, rec("a", "alert", T0 + timedelta(minutes=1)), Rule(), one_event, None
    )
    assert prev is not None and prev.last_notified_state is State.ALERT
    assert (t.reason, entries) == (Reason.STILL_FIRING, [])
    rows = listings.history_rows(db, ["a"])
    assert [r["transition"] for r in rows] == ["still_firing", "firing"]
    assert rows[1]["notified"][0]["outcome"] == "pending"
    assert rows[0]["previous_state"] == "ALERT"
    assert rows[0]["finished_at"] == T0 + timedelta(minutes=1)  # aware UTC on both backends


def test_history_is_pruned_by_retention(db: StateDB) -> None:
    old = T0 - timedelta(days=10)
    record_run(db, rec("a", "ok", old), Rule(), no_events, None)
    record_run(db, rec("b", "ok", old), Rule(), no_events, None)
    record_run(db, rec("a", "ok", T0 - timedelta(days=2)), Rule(), no_events, None)
    record_run(db, rec("a", "ok", T0), Rule(), no_events, retention=5 * 86400)
    a_times = [r["finished_at"] for r in listings.history_rows(db, ["a"])]
    assert a_times == [T0, T0 - timedelta(days=2)]
    assert len(listings.history_rows(db, ["b"])) == 1  # pruning is per alert, on its own run


def test_silence_suppresses_then_silence_ended_notifies(db: StateDB) -> None:
    sid = sil.add_silence(db, "a", T0, T0 + timedelta(hours=1), "deploy", "alice")
    assert sid > 0
    _, t, entries = record_run(db, rec("a", "alert", T0), Rule(), one_event, None)
    assert (t.state, t.notify, t.suppressed, entries) == (State.ALERT, None, True, [])
    [row] = listings.states(db)
    assert row["suppressed"] is True
    assert sil.active_silences(db, T0 + timedelta(minutes=1))["a"]["created_by"] == "alice"

    assert sil.end_silences(db, "a", T0 + timedelta(minutes=5)) == 1
    assert sil.end_silences(db, "a", T0 + timedelta(minutes=6)) == 0
    with db.read() as conn:
        assert conn.execute(select(silences.c.ended_at)).scalar() == T0 + timedelta(minutes=5)
    assert sil.active_silences(db, T0 + timedelta(minutes=6)) == {}
    _, t, entries = record_run(
        db, rec("a", "alert", T0 + timedelta(minutes=7)), Rule(), one_event, None
    )
    assert (t.reason, len(entries)) == (Reason.SILENCE_ENDED, 1)


def test_silence_outside_its_window_does_not_apply(db: StateDB) -> None:
    sil.add_silence(db, "a", T0 + timedelta(hours=1), T0 + timedelta(hours=2), "later", "bob")
    _, t, entries = record_run(db, rec("a", "alert", T0), Rule(), one_event, None)
    assert (t.suppressed, len(entries)) == (False, 1)


def test_outbox_claim_is_exclusive_while_leased(db: StateDB, url: str) -> None:
    _, _, [entry] = record_run(db, rec("a", "alert", T0), Rule(), one_event, None)
    other = StateDB(url)  # another process's view
    first = outbox.claim_pending(db, "a", T0, lease=60)
    assert [r["event_id"] for r in first] == [entry.event_id]
    assert outbox.claim_pending(other, "a", T0 + timedelta(seconds=30), lease=60) == []
    assert outbox.claim_pending(other, "b", T0, lease=60) == []
    # the lease runs out: the next run may retry it
    again = outbox.claim_pending(other, "a", T0 + timedelta(seconds=61), lease=60)
    assert [r["event_id"] for r in again] == [entry.event_id]

    outbox.record_attempt(
        db,
        {
            "event_id": entry.event_id, "alert": "a", "channel": "webhook",
            "target": "http://hook", "attempt": 1, "outcome": "delivered", "status_code": 200,
            "error_class": None, "detail": None, "latency_ms": 3.5, "started_at": T0,
        },
    )  # fmt: skip
    outbox.finish_notification(db, entry.event_id, "delivered", 1, None, T0)
    assert outbox.claim_pending(db, "a", T0 + timedelta(hours=1), lease=60) == []
    assert listings.pending_count(db) == {}
    assert listings.history_rows(db, ["a"])[0]["notified"][0]["outcome"] == "delivered"
    assert [d["status_code"] for d in listings.delivery_rows(db, ["a"])] == [200]


def test_concurrent_claims_get_each_event_once(db: StateDB, url: str) -> None:
    for i in range(5):
        record_run(db, rec("a", "alert" if i % 2 == 0 else "ok", T0 + timedelta(minutes=i)),
                         Rule(), one_event, None)  # fmt: skip
    assert listings.pending_count(db) == {"a": 5}
    got: list[list[dict[str, Any]]] = []

    def claim() -> None:
        got.append(outbox.claim_pending(StateDB(url), "a", T0 + timedelta(hours=1), lease=60))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [r["event_id"] for rows in got for r in rows]
    assert len(ids) == len(set(ids)) == 5


def test_history_row_counts_match_runs(db: StateDB) -> None:
    for i in range(3):
        record_run(db, rec(f"x{i}", "ok", T0), Rule(), no_events, None)
    with db.read() as conn:
        assert len(conn.execute(select(history.c.id)).all()) == 3
    assert {r["alert"] for r in listings.run_counts(db)} == {"x0", "x1", "x2"}


def test_unreachable_postgresql_is_a_clear_state_db_error(unreachable_pg: str) -> None:
    state = StateDB(unreachable_pg)
    with pytest.raises(StateDBError) as info:
        state.ensure_schema()
    message = str(info.value)
    assert "cannot open state database" in message
    assert "127.0.0.1" in message and "hunter2" not in message  # password redacted
    assert "\n" not in message


def test_unreachable_state_db_from_the_cli_exits_4(unreachable_pg: str, cli, write_config) -> None:
    config = write_config(
        "database:\n  url: sqlite:///alerts.db\nalerts:\n"
        "  - name: a\n    query: SELECT 'OK' AS status\n    schedule: '*/5 * * * *'\n"
    )
    done = cli("run", config, "--alert", "a", "--state-db", unreachable_pg)
    assert done.rc == 4, done
    assert "error: cannot open state database" in done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr


@pytest.fixture
def unreachable_pg() -> str:
    from support import free_port  # nothing listens on a freshly freed port

    return f"postgresql://sentinel:hunter2@127.0.0.1:{free_port()}/state"


def test_missing_postgresql_database_is_not_an_empty_schema(pg_server: str) -> None:
    with pytest.raises(StateDBError, match=r'cannot open .*"no_such_db" does not exist'):
        StateDB(f"{pg_server}/no_such_db").schema_version()
