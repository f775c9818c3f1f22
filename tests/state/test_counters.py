"""The Prometheus counters: bumped with the rows they count, never lowered by pruning, kept
across processes, seeded from the kept rows when the schema is upgraded (issue 17.14)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sqlsentinel.core.decide import Rule, decide
from sqlsentinel.core.delivery import Attempt, DeliveryOutcome, NotificationStatus
from sqlsentinel.core.run import RunRecord
from sqlsentinel.state import outbox
from sqlsentinel.state.counters import read_counters
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.metrics import metrics_text
from sqlsentinel.state.record import OutboxEntry, open_run
from sqlsentinel.state.schema import COUNTERS_SINCE, MIGRATIONS, SCHEMA_VERSION, statements

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HALF_DAY = 43200.0


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


def run_once(db: StateDB, condition: str, at: datetime, retention: float | None) -> list[str]:
    """One run of alert `a` as the engine records it; returns the event ids it queued."""
    rec = RunRecord(
        run_id=uuid.uuid4().hex, alert="a", triggered_by="CRON", scheduled_at=None,
        launched_at=None, started_at=at - timedelta(seconds=1), finished_at=at,
        outcome=condition, condition=condition,
    )  # fmt: skip
    with open_run(db, "a", at) as tx:
        t = decide(tx.previous, condition, Rule(), tx.silenced, at)
        entries = (
            [OutboxEntry(uuid.uuid4().hex, "webhook", "http://hook", 0, t.notify.value, {})]
            if t.notify
            else []
        )
        tx.write(rec, t, entries, retention)
    return [e.event_id for e in entries]


def deliver(db: StateDB, event_id: str, at: datetime, outcomes: list[DeliveryOutcome]) -> None:
    """The attempts of one notification, then where it stands, as the retry loop records them."""
    for n, outcome in enumerate(outcomes, 1):
        outbox.begin_attempt(db, attempt(event_id, n, at))
        outbox.end_attempt(db, attempt(event_id, n, at, outcome))
    outbox.finish_notification(db, event_id, outcomes[-1].status, None, at)


def attempt(
    event_id: str, n: int, at: datetime, outcome: DeliveryOutcome = DeliveryOutcome.SENDING
) -> Attempt:
    return Attempt(
        event_id=event_id, alert="a", channel="webhook", target="http://hook", attempt=n,
        started_at=at, outcome=outcome,
    )  # fmt: skip


def counts(db: StateDB) -> dict[tuple[str, str, str, str], int]:
    return {(c["metric"], c["alert"], c["channel"], c["outcome"]): c["total"]
            for c in read_counters(db)}  # fmt: skip


def test_counters_outlive_pruning_and_each_process(url: str) -> None:
    db = StateDB(url)
    db.ensure_schema()
    for day in range(6):
        at = T0 + timedelta(days=day)
        for event_id in run_once(db, "alert" if day % 2 == 0 else "ok", at, retention=HALF_DAY):
            deliver(db, event_id, at, [DeliveryOutcome.RETRYABLE, DeliveryOutcome.DELIVERED])
    with db.read() as tx:  # half a day kept: the last run and its deliveries
        assert tx.scalar("SELECT count(*) FROM history") == 1
        assert tx.scalar("SELECT count(*) FROM deliveries") == 2
    reopened = StateDB(url)  # another process: the counts are in the database
    assert counts(reopened) == {
        ("runs", "a", "", "alert"): 3,
        ("runs", "a", "", "ok"): 3,
        ("notifications", "a", "webhook", "delivered"): 6,
        ("attempts", "a", "webhook", "retryable"): 6,
        ("attempts", "a", "webhook", "delivered"): 6,
    }
    text = metrics_text(reopened, T0 + timedelta(days=6))
    assert "# TYPE sqlsentinel_runs_total counter" in text
    assert 'sqlsentinel_runs_total{alert="a",outcome="alert"} 3' in text
    assert 'sqlsentinel_runs_in_history{alert="a",outcome="ok"} 1' in text
    assert (
        'sqlsentinel_notifications_total{alert="a",channel="webhook",outcome="delivered"} 6' in text
    )
    assert (
        'sqlsentinel_notification_attempts_total{alert="a",channel="webhook",outcome="retryable"} 6'
        in text
    )


def test_each_finished_notification_counts_once(url: str) -> None:
    db = StateDB(url)
    db.ensure_schema()
    [older] = run_once(db, "alert", T0, None)
    [newer] = run_once(db, "ok", T0 + timedelta(minutes=1), None)
    with db.write() as tx:  # the newest of the target is claimed, the older one superseded
        [claim] = outbox.claim_in(tx, "a", T0 + timedelta(minutes=2), 60)
    assert claim.event_id == newer
    deliver(db, newer, T0, [DeliveryOutcome.PERMANENT])
    outbox.finish_notification(db, newer, NotificationStatus.FAILED, None, T0)  # again: no count
    outbox.end_attempt(db, attempt(newer, 1, T0, DeliveryOutcome.PERMANENT))  # again: no count
    assert counts(db) == {
        ("runs", "a", "", "alert"): 1,
        ("runs", "a", "", "ok"): 1,
        ("notifications", "a", "webhook", "superseded"): 1,
        ("notifications", "a", "webhook", "failed"): 1,
        ("attempts", "a", "webhook", "permanent"): 1,
    }
    assert older != newer


def test_the_upgrade_seeds_the_counts_from_the_rows_kept(url: str) -> None:
    db = StateDB(url)
    with db.write() as tx:  # a database of the previous schema, with rows
        for migration in MIGRATIONS[: COUNTERS_SINCE - 1]:
            for sql in statements(migration, tx.dialect):
                tx.execute(sql)
        tx.execute('INSERT INTO sqlsentinel_schema ("key", value) VALUES (?, ?)',
                   ("version", str(COUNTERS_SINCE - 1)))  # fmt: skip
    assert db.schema_version() == COUNTERS_SINCE - 1
    ids = run_once_v6(db)
    assert db.ensure_schema() == (COUNTERS_SINCE - 1, SCHEMA_VERSION)
    assert counts(StateDB(url)) == {
        ("runs", "a", "", "alert"): 2,
        ("notifications", "a", "webhook", "delivered"): 1,
        ("attempts", "a", "webhook", "delivered"): 1,
    }
    assert len(ids) == 2


def run_once_v6(db: StateDB) -> list[str]:
    """Rows as the previous release wrote them: two runs, one notification delivered (one
    attempt), one still pending with an attempt under way."""
    ids = [uuid.uuid4().hex, uuid.uuid4().hex]
    with db.write() as tx:
        for n, event_id in enumerate(ids):
            tx.execute(
                "INSERT INTO history (run_id, alert, triggered_by, started_at, finished_at, "
                "duration_ms, outcome, state, transition) "
                "VALUES (?, 'a', 'CRON', ?, ?, 1.0, 'alert', 'ALERT', 'firing')",
                (uuid.uuid4().hex, T0, T0),
            )
            status = "delivered" if n == 0 else "pending"
            tx.execute(
                "INSERT INTO notifications (event_id, alert, channel, target, target_index, "
                "reason, payload, status, attempts, created_at, run_id) "
                "VALUES (?, 'a', 'webhook', 'http://hook', 0, 'firing', '{}', ?, 1, ?, 'r')",
                (event_id, status, T0),
            )
            tx.execute(
                "INSERT INTO deliveries (event_id, alert, channel, target, attempt, outcome, "
                "latency_ms, started_at) VALUES (?, 'a', 'webhook', 'http://hook', 1, ?, 0, ?)",
                (event_id, "delivered" if n == 0 else "sending", T0),
            )
    return ids
