"""The state store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sqlsentinel.core.decide import Reason, Rule, State, Transition, decide
from sqlsentinel.core.delivery import Attempt, DeliveryOutcome, NotificationStatus
from sqlsentinel.core.run import RunRecord
from sqlsentinel.errors import StateDBError
from sqlsentinel.state import listings, outbox
from sqlsentinel.state import silences as sil
from sqlsentinel.state.db import StateDB, Tx
from sqlsentinel.state.record import OutboxEntry, open_run
from sqlsentinel.state.schema import MIGRATIONS, SCHEMA_VERSION, statements

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
    "stale_episodes",
    "instance_state",
    "metric_counters",
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
        launched_at=None,
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


def tables(state: StateDB) -> set[str]:
    with state.read() as tx:
        if tx.dialect == "sqlite":
            rows = tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = tx.all("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")
    return {r["name"] for r in rows}


def set_version(tx: Tx, version: int | str) -> None:
    tx.execute('DELETE FROM sqlsentinel_schema WHERE "key" = ?', ("version",))
    tx.execute(
        'INSERT INTO sqlsentinel_schema ("key", value) VALUES (?, ?)', ("version", str(version))
    )


def test_fresh_database_gets_the_whole_schema(url: str) -> None:
    state = StateDB(url)
    assert state.schema_version() == 0
    assert state.ensure_schema() == (0, SCHEMA_VERSION)
    assert state.schema_version() == SCHEMA_VERSION == 9
    assert tables(state) >= ALL_TABLES


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
    with state.read() as tx:
        assert tx.scalar("SELECT count(*) FROM sqlsentinel_schema") == 1


def test_cli_init_twice(url: str, cli) -> None:
    first = cli("init", "--state-db", url)
    assert (first.rc, first.stdout.strip()) == (
        0,
        f"created state database schema v{SCHEMA_VERSION}",
    ), first
    second = cli("init", "--state-db", url)
    assert (second.rc, second.stdout.strip()) == (
        0,
        f"state database is up to date (schema v{SCHEMA_VERSION})",
    )
    assert StateDB(url).schema_version() == SCHEMA_VERSION


def test_upgrade_from_v1_keeps_rows(url: str) -> None:
    """A database of the first release (v1: as SQLAlchemy created it) upgrades in place."""
    state = StateDB(url)
    with state.write() as tx:
        for sql in statements(MIGRATIONS[0], tx.dialect):
            tx.execute(sql)
        set_version(tx, 1)
        tx.execute(  # a row as the first release wrote it
            "INSERT INTO history (run_id, alert, triggered_by, started_at, finished_at, "
            "duration_ms, outcome, state, transition, context) "
            "VALUES ('r1', 'a', 'CRON', ?, ?, 1.0, 'alert', 'ALERT', 'firing', ?)",
            (T0, T0, '{"region":"eu"}'),
        )
    assert state.schema_version() == 1
    assert "notifications" not in tables(state)
    sil.add_silence(state, "a", T0, T0 + timedelta(hours=1), "maint", "ops")

    assert state.ensure_schema() == (1, SCHEMA_VERSION)
    assert state.schema_version() == SCHEMA_VERSION
    assert tables(state) >= ALL_TABLES
    [row] = listings.history_rows(state, ["a"])
    assert (row["outcome"], row["state"], row["context"]) == ("alert", "ALERT", {"region": "eu"})
    assert (row["finished_at"], row["spooled"], row["launched_at"]) == (T0, False, None)
    assert sil.active_silences(state, T0)["a"]["reason"] == "maint"
    # the new tables work
    record_run(state, rec("a", "ok", T0 + timedelta(hours=2)), Rule(), no_events, None)


def test_newer_schema_is_refused_clearly(db: StateDB, url: str) -> None:
    with db.write() as tx:
        set_version(tx, SCHEMA_VERSION + 1)
    newer = rf"schema v{SCHEMA_VERSION + 1}, newer than .*\(v{SCHEMA_VERSION}\); upgrade"
    with pytest.raises(StateDBError, match=newer):
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
    with db.read() as tx:
        ended = tx.one("SELECT ended_at FROM silences")
    assert ended == {"ended_at": T0 + timedelta(minutes=5)}
    assert sil.active_silences(db, T0 + timedelta(minutes=6)) == {}
    _, t, entries = record_run(
        db, rec("a", "alert", T0 + timedelta(minutes=7)), Rule(), one_event, None
    )
    assert (t.reason, len(entries)) == (Reason.SILENCE_ENDED, 1)


def test_silence_outside_its_window_does_not_apply(db: StateDB) -> None:
    sil.add_silence(db, "a", T0 + timedelta(hours=1), T0 + timedelta(hours=2), "later", "bob")
    _, t, entries = record_run(db, rec("a", "alert", T0), Rule(), one_event, None)
    assert (t.suppressed, len(entries)) == (False, 1)


def claim(db: StateDB, alert: str, now: datetime, holder: str | None = None) -> list[str]:
    with db.write() as tx:
        return [c.event_id for c in outbox.claim_in(tx, alert, now, 60, holder=holder)]


def test_outbox_claim_logs_and_finishes(db: StateDB) -> None:
    _, _, [entry] = record_run(db, rec("a", "alert", T0), Rule(), one_event, None)
    assert claim(db, "a", T0) == [entry.event_id]
    attempt = Attempt(
        event_id=entry.event_id, alert="a", channel="webhook", target="http://hook", attempt=1,
        started_at=T0,
    )  # fmt: skip
    outbox.begin_attempt(db, attempt)
    assert [d["outcome"] for d in listings.delivery_rows(db, ["a"])] == ["sending"]
    done = replace(attempt, outcome=DeliveryOutcome.DELIVERED, status_code=200, latency_ms=3.5)
    outbox.end_attempt(db, done)
    outbox.finish_notification(db, entry.event_id, NotificationStatus.DELIVERED, None, T0)
    assert claim(db, "a", T0 + timedelta(hours=1)) == []
    assert listings.pending_count(db) == {}
    assert listings.history_rows(db, ["a"])[0]["notified"][0]["outcome"] == "delivered"
    assert [d["status_code"] for d in listings.delivery_rows(db, ["a"])] == [200]


def test_concurrent_claims_get_each_target_once(db: StateDB, url: str) -> None:
    """Five notifications to one target: one claim gets the newest, the rest are superseded."""
    for i in range(5):
        record_run(db, rec("a", "alert" if i % 2 == 0 else "ok", T0 + timedelta(minutes=i)),
                   Rule(), one_event, None)  # fmt: skip
    assert listings.pending_count(db) == {"a": 5}
    got: list[list[str]] = []
    dbs = [StateDB(url) for _ in range(4)]  # each keeps its connection (PostgreSQL: its locks)

    def one_claim(n: int) -> None:  # four processes, on another host
        got.append(claim(dbs[n], "a", T0 + timedelta(hours=1), f"elsewhere:{n}:1"))

    threads = [threading.Thread(target=one_claim, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(len, got)) == [0, 0, 0, 1]
    with db.read() as tx:
        status = {r["status"] for r in tx.all("SELECT status FROM notifications")}
    assert status == {"pending", "superseded"}


def test_history_row_counts_match_runs(db: StateDB) -> None:
    for i in range(3):
        record_run(db, rec(f"x{i}", "ok", T0), Rule(), no_events, None)
    with db.read() as tx:
        assert tx.scalar("SELECT count(*) FROM history") == 3
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
    with pytest.raises(StateDBError, match=r"cannot open .*no_such_db"):
        StateDB(f"{pg_server}/no_such_db").schema_version()
