"""The run recipe in process: `run_alert` (one-row and keyed) and `deliver_claimed` on a
SQLite state database, with a fake channel registered through the channel registry and
an injected clock, asserting the rows each step writes."""

from __future__ import annotations

import json
import sqlite3
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sqlsentinel.core.delivery import DeliveryOutcome, NotificationResult, NotificationStatus
from sqlsentinel.core.grouped import Notification
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec, Settings, SmtpSpec, TargetSpec
from sqlsentinel.engine.run import Trigger, run_alert
from sqlsentinel.notify import channels
from sqlsentinel.notify.channels import SendResult
from sqlsentinel.notify.dispatch import deliver_claimed
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.outbox import claim_in
from sqlsentinel.state.record import OutboxEntry, insert_notifications

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = Settings(source="alerts.yaml")


@dataclass
class FakeChannel:
    """A channel that answers from a script and keeps what it was sent."""

    answers: list[DeliveryOutcome] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def send(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None, timeout: float
    ) -> SendResult:
        self.sent.append(event.to_payload())
        outcome = self.answers.pop(0) if self.answers else DeliveryOutcome.DELIVERED
        return SendResult(outcome, 200 if outcome is DeliveryOutcome.DELIVERED else 500, None,
                          f"fake {outcome}")  # fmt: skip

    def preview(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None
    ) -> dict[str, Any]:
        return {"body": event.to_payload()}

    def describe(self, target: TargetSpec) -> str:
        return f"fake {target.options['to']}"

    def secrets(self, target: TargetSpec, smtp: SmtpSpec | None) -> list[str]:
        return []

    def default_timeout(self, smtp: SmtpSpec | None) -> float:
        return 5.0


class Clock:
    """The wall clock the run reads: set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChannel]:
    """`channel: fake`, registered as every channel is: a name in CHANNELS, a module."""
    channel = FakeChannel()
    module = types.ModuleType("sqlsentinel.notify.channels.fake")
    module.CHANNEL = channel  # type: ignore[attr-defined]
    monkeypatch.setattr(channels, "CHANNELS", (*channels.CHANNELS, "fake"))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    yield channel


@pytest.fixture
def target_db(tmp_path: Path) -> Path:
    path = tmp_path / "target.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, late INTEGER)")
    return path


@pytest.fixture
def db(tmp_path: Path) -> StateDB:
    return StateDB(f"sqlite:///{tmp_path / 'state.db'}")


def set_orders(path: Path, *rows: tuple[int, int]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM orders")
        conn.executemany("INSERT INTO orders VALUES (?, ?)", rows)


def alert(target_db: Path, **changes: Any) -> AlertSpec:
    query = (
        "SELECT CASE WHEN sum(late) > 0 THEN 'ALERT' ELSE 'OK' END AS status, "
        "sum(late) AS actual_value, 0 AS threshold FROM orders"
    )
    spec = AlertSpec(
        "late orders", query, "*/5 * * * *", DatabaseSpec(f"sqlite:///{target_db}"),
        notify=(TargetSpec("fake", {"to": "ops"}, max_attempts=1),),
    )  # fmt: skip
    return AlertSpec(**{**vars(spec), **changes})


def rows(db: StateDB, table: str) -> list[dict[str, Any]]:
    with db.read() as tx:
        return tx.all(f"SELECT * FROM {table}")


def test_a_one_row_alert_fires_once_resolves_and_records_every_step(
    fake: FakeChannel, target_db: Path, db: StateDB
) -> None:
    spec, clock = alert(target_db), Clock(T0)
    set_orders(target_db, (1, 3))
    first = run_alert(spec, SETTINGS, db, Trigger("CRON"), None, clock)
    assert (first.outcome, first.state, first.transition) == ("alert", "ALERT", "firing")
    [sent] = first.notifications
    delivered = NotificationStatus.DELIVERED
    assert sent == NotificationResult(
        sent.event_id, "fake", "fake ops", "firing", delivered, 1, "fake delivered"
    )
    assert not first.delivery_failed
    [state] = rows(db, "alert_state")
    assert (state["state"], state["since"], state["last_run_at"]) == ("ALERT", T0, T0)
    [history] = rows(db, "history")
    assert (history["outcome"], history["transition"], history["finished_at"]) == (
        "alert", "firing", T0,
    )  # fmt: skip
    [outbox] = rows(db, "notifications")
    assert (outbox["status"], outbox["reason"], outbox["attempts"]) == ("delivered", "firing", 1)
    [attempt] = rows(db, "deliveries")
    assert (attempt["outcome"], attempt["status_code"], attempt["started_at"]) == (
        "delivered", 200, T0,
    )  # fmt: skip
    assert fake.sent[0]["occurred_at"] == "2026-03-02T09:00:00Z"
    assert (fake.sent[0]["reason"], fake.sent[0]["actual_value"]) == ("firing", 3)

    clock.now = T0 + timedelta(minutes=5)  # still firing: nothing new to say
    again = run_alert(spec, SETTINGS, db, Trigger("CRON"), None, clock)
    assert (again.state, again.transition, again.notifications) == ("ALERT", "still_firing", [])

    clock.now = T0 + timedelta(minutes=10)
    set_orders(target_db, (1, 0))
    fake.answers = [DeliveryOutcome.PERMANENT]  # the receiver refuses the resolve for good
    resolved = run_alert(spec, SETTINGS, db, Trigger("CRON"), None, clock)
    assert (resolved.state, resolved.transition) == ("OK", "resolved")
    assert [n.outcome for n in resolved.notifications] == [NotificationStatus.FAILED]
    assert resolved.delivery_failed
    statuses = sorted((r["reason"], r["status"]) for r in rows(db, "notifications"))
    assert statuses == [("firing", "delivered"), ("resolved", "failed")]
    assert len(rows(db, "history")) == 3 and len(fake.sent) == 2


def test_a_keyed_alert_sends_one_grouped_message_per_run(
    fake: FakeChannel, target_db: Path, db: StateDB
) -> None:
    query = "SELECT id, CASE WHEN late > 0 THEN 'ALERT' ELSE 'OK' END AS status FROM orders"
    spec, clock = alert(target_db, query=query, key=("id",)), Clock(T0)
    set_orders(target_db, (1, 2), (2, 0))
    first = run_alert(spec, SETTINGS, db, Trigger("CRON"), None, clock)
    assert first.state == "ALERT" and first.instances is not None
    instances = {r["instance_key"]: r["state"] for r in rows(db, "instance_state")}
    assert sorted(instances.values()) == ["ALERT", "OK"]
    [message] = fake.sent
    assert message["schema_version"] == 2 and message["counts"]["ALERT"] == 1
    assert [(n["key"], n["reason"]) for n in message["instances"]] == [({"id": 1}, "firing")]
    assert [n.outcome for n in first.notifications] == [NotificationStatus.DELIVERED]

    clock.now = T0 + timedelta(minutes=5)
    set_orders(target_db, (1, 0), (2, 0))
    second = run_alert(spec, SETTINGS, db, Trigger("CRON"), None, clock)
    assert second.state == "OK"
    assert [n["reason"] for n in fake.sent[1]["instances"]] == ["resolved"]
    assert {r["state"] for r in rows(db, "instance_state")} == {"OK"}
    assert all(r["status"] == "delivered" for r in rows(db, "notifications"))


def test_deliver_claimed_sends_the_newest_per_target_and_supersedes_the_rest(
    fake: FakeChannel, target_db: Path, db: StateDB
) -> None:
    """Two notifications queued for one target, the older one claimed earlier but left
    pending: the claim delivers the newest only; one whose target left the config is
    abandoned."""
    spec, clock = alert(target_db), Clock(T0)
    db.ensure_schema()
    old = _entry("firing", 0)
    new = _entry("resolved", 0)
    gone = _entry("firing", 7, target="fake somewhere else")
    with db.write() as tx:
        insert_notifications(tx, spec.name, "run-1", [old], T0)
        insert_notifications(tx, spec.name, "run-2", [new, gone], T0 + timedelta(seconds=1))
    with db.write() as tx:
        claims = claim_in(tx, spec.name, T0 + timedelta(seconds=2), 60)
    assert sorted(c.event_id for c in claims) == sorted([new.event_id, gone.event_id])
    clock.now = T0 + timedelta(seconds=3)
    results = deliver_claimed(spec, SETTINGS, db, claims, deadline=float("inf"), clock=clock)
    assert [(r.event_id, r.outcome) for r in results] == [
        (new.event_id, NotificationStatus.DELIVERED)
    ]
    stands = {r["event_id"]: (r["status"], r["finished_at"]) for r in rows(db, "notifications")}
    assert stands == {
        old.event_id: ("superseded", T0 + timedelta(seconds=2)),
        new.event_id: ("delivered", clock.now),
        gone.event_id: ("abandoned", clock.now),
    }
    assert [p["reason"] for p in fake.sent] == ["resolved"]


def _entry(reason: str, index: int, target: str = "fake ops") -> OutboxEntry:
    event_id = f"{reason}{index}".ljust(32, "0").encode().hex()[:32]
    payload = {
        "schema_version": 1, "event_id": event_id, "dedup_key": f"late orders:ALERT:{reason}",
        "alert": "late orders", "description": None, "state": "ALERT", "previous_state": "OK",
        "reason": reason, "actual_value": 3, "threshold": 0, "context": {}, "error": None,
        "outcome": "alert", "occurred_at": "2026-03-02T09:00:00Z",
        "state_since": "2026-03-02T09:00:00Z", "tags": [], "triggered_by": "CRON",
        "run_id": "run-1",
    }  # fmt: skip
    return OutboxEntry(event_id, "fake", target, index, reason, json.loads(json.dumps(payload)))
