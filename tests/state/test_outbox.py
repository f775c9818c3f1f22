"""Outbox claims: per-target order, superseding, and who may take over a claim."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sqlsentinel.procinfo import holder_id
from sqlsentinel.state import outbox
from sqlsentinel.state.db import StateDB

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(sqlite_url: str) -> StateDB:
    state = StateDB(sqlite_url)
    state.ensure_schema()
    return state


@pytest.fixture
def live_holder() -> Iterator[str]:
    """The holder id of another process on this host that is running."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(f"/proc/{child.pid}/stat", "rb") as f:
        start = f.read().rsplit(b")", 1)[1].split()[19].decode()
    try:
        yield f"{os.uname().nodename}:{child.pid}:{start}"
    finally:
        child.kill()
        child.wait()


def queue(db: StateDB, reason: str, at: datetime, target: int = 0) -> str:
    event_id = uuid.uuid4().hex
    with db.write() as tx:
        tx.execute(
            "INSERT INTO notifications (event_id, alert, channel, target, target_index, reason, "
            "payload, status, attempts, created_at, run_id) "
            "VALUES (?, 'a', 'webhook', ?, ?, ?, '{}', 'pending', 0, ?, 'r')",
            (event_id, f"webhook POST http://hook/{target}", target, reason, at),
        )
    return event_id


def claim(
    db: StateDB, now: datetime, holder: str | None = None, *, in_order: bool = False
) -> list[str]:
    with db.write() as tx:
        claimed = outbox.claim_in(tx, "a", now, 60, holder=holder, in_order=in_order)
        return [c.event_id for c in claimed]


def statuses(db: StateDB) -> dict[str, str]:
    with db.read() as tx:
        return {r["event_id"]: r["status"] for r in tx.all("SELECT * FROM notifications")}


def test_the_newest_per_target_is_claimed_and_older_ones_superseded(db: StateDB) -> None:
    firing = queue(db, "firing", T0)
    resolved = queue(db, "resolved", T0 + timedelta(minutes=1))
    other = queue(db, "firing", T0, target=1)
    assert sorted(claim(db, T0 + timedelta(minutes=2))) == sorted([resolved, other])
    assert statuses(db) == {firing: "superseded", resolved: "pending", other: "pending"}
    with db.read() as tx:
        row = tx.one("SELECT * FROM notifications WHERE event_id = ?", (firing,))
    assert row is not None and row["last_error"] == f"superseded by resolved {resolved}"


def test_a_target_waits_while_an_earlier_notification_is_in_flight(
    db: StateDB, live_holder: str
) -> None:
    firing = queue(db, "firing", T0)
    assert claim(db, T0, holder=live_holder) == [firing]  # another process is delivering it
    resolved = queue(db, "resolved", T0 + timedelta(seconds=5))
    # the resolved must not overtake the firing in flight: nothing for this target yet
    assert claim(db, T0 + timedelta(seconds=10)) == []
    assert statuses(db) == {firing: "pending", resolved: "pending"}
    # nor is it undelivered: the live holder takes the rest of its target's queue next
    assert outbox.free_pending(db, "a", T0 + timedelta(seconds=10)) == []


def test_a_claim_of_a_process_that_is_gone_is_taken_over_at_once(db: StateDB) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that no longer runs, on this host
    gone = f"{os.uname().nodename}:{child.pid}:1"
    firing = queue(db, "firing", T0)
    assert claim(db, T0, holder=gone) == [firing]
    assert claim(db, T0 + timedelta(seconds=1)) == [firing]  # not after a 60 s lease


def test_a_claim_from_another_host_holds_until_its_lease_ends(db: StateDB) -> None:
    firing = queue(db, "firing", T0)
    assert claim(db, T0, holder="elsewhere:123:456") == [firing]
    assert claim(db, T0 + timedelta(seconds=59)) == []
    assert claim(db, T0 + timedelta(seconds=61)) == [firing]
    with db.read() as tx:
        assert tx.scalar("SELECT claimed_by FROM notifications") == holder_id()


def test_postgresql_claims_die_with_their_session(pg_url: str) -> None:
    """On PostgreSQL a claim is a session lock: a holder whose connection is gone (a killed
    process) releases it at once, whatever the lease says."""
    first, second = StateDB(pg_url), StateDB(pg_url)
    first.ensure_schema()
    firing = queue(first, "firing", T0)
    assert claim(first, T0) == [firing]
    assert claim(second, T0, holder="other:1:1") == []  # first's session holds it
    first._conn.close()  # the process died: the server ends its session a moment later
    deadline = time.monotonic() + 10
    while not (taken := claim(second, T0, holder="other:1:1")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert taken == [firing]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> StateDB:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    state = StateDB(str(request.getfixturevalue(name)))
    state.ensure_schema()
    return state


def test_grouped_messages_are_all_claimed_in_order_and_none_superseded(any_db: StateDB) -> None:
    """A keyed alert's messages each carry other instances: every one goes, oldest first."""
    first = queue(any_db, "firing", T0)
    second = queue(any_db, "resolved", T0 + timedelta(minutes=1))
    other = queue(any_db, "firing", T0, target=1)
    claimed = claim(any_db, T0 + timedelta(minutes=2), in_order=True)
    assert sorted(claimed) == sorted([first, second, other])
    assert claimed.index(first) < claimed.index(second)
    assert set(statuses(any_db).values()) == {"pending"}
    elsewhere = StateDB(any_db.url)  # another process (PostgreSQL: another session)
    assert claim(elsewhere, T0 + timedelta(minutes=2), holder="other:1:1", in_order=True) == []


def test_grouped_messages_wait_behind_one_in_flight(db: StateDB, live_holder: str) -> None:
    first = queue(db, "firing", T0)
    assert claim(db, T0, holder=live_holder, in_order=True) == [first]
    second = queue(db, "resolved", T0 + timedelta(seconds=5))
    assert claim(db, T0 + timedelta(seconds=10), in_order=True) == []
    assert statuses(db) == {first: "pending", second: "pending"}


def test_a_notification_another_run_finishes_meanwhile_is_never_undelivered(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run B lists the pending rows while run A is delivering one; A finishes it and lets go
    before B looks at the hold. B must not call it undelivered (it exited 5, 1 in 140)."""
    a, b = StateDB(pg_url), StateDB(pg_url)
    a.ensure_schema()
    event = queue(a, "firing", T0)
    assert claim(a, T0) == [event]  # A holds it (its session lock) and delivers
    listed = outbox.Tx.all

    def list_then_a_finishes(tx: outbox.Tx, sql: str, params: object = ()) -> object:
        rows = listed(tx, sql, params)  # type: ignore[arg-type]
        if "claimed_until" in sql and "status = ?" in sql and tx is not None and not finished:
            finished.append(True)
            outbox.finish_notification(a, event, "delivered", None, T0)
        return rows

    finished: list[bool] = []
    monkeypatch.setattr(outbox.Tx, "all", list_then_a_finishes)
    assert outbox.free_pending(b, "a", T0) == []
    assert finished == [True]
    monkeypatch.undo()
    assert statuses(b) == {event: "delivered"}
    second = queue(a, "resolved", T0)  # one nobody holds is undelivered
    assert outbox.free_pending(b, "a", T0) == [second]
    assert claim(a, T0) == [second]  # one a live run holds is not
    assert outbox.free_pending(b, "a", T0) == []
