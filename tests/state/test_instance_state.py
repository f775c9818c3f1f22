"""instance_state on SQLite and PostgreSQL: round trip, writes only on change, forgetting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sqlsentinel.core.decide import Rule, State
from sqlsentinel.core.instances import Instance, decide_instances, instance_key
from sqlsentinel.state import silences
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.instances import known_instances, save_instances, silenced_keys

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> StateDB:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    state = StateDB(str(request.getfixturevalue(name)))
    state.ensure_schema()
    return state


def row(wid: int, late: int, condition: str = "alert") -> Instance:
    values = {"warehouse_id": wid, "region": "eu"}
    return Instance(instance_key(values.values()), values, condition, Decimal(late), 30,
                    {"at": datetime(2026, 1, 1, tzinfo=UTC)})  # fmt: skip


def run(db: StateDB, rows: list[Instance], now: datetime) -> None:
    with db.write() as tx:
        known = known_instances(tx, "late")
        decisions = decide_instances(known, rows, Rule(), lambda k: False, "resolve", now)
        save_instances(tx, "late", decisions, now)


def stored(db: StateDB) -> dict[str, dict[str, object]]:
    with db.read() as tx:
        return {r["instance_key"]: r for r in tx.all("SELECT * FROM instance_state")}


def test_round_trip_keeps_the_key_order_and_values(db: StateDB) -> None:
    run(db, [row(7, 50)], T0)
    with db.read() as tx:
        [(key, known)] = known_instances(tx, "late").items()
    assert key == '["7","eu"]' and list(known.key_values) == ["warehouse_id", "region"]
    assert (known.previous.state, known.previous.since) == (State.ALERT, T0)
    assert (known.actual_value, known.context) == (50, {"at": "2026-01-01T00:00:00+00:00"})
    assert known.previous.last_notified_state is State.ALERT  # it fired: told


def test_a_steady_instance_is_not_written_again(db: StateDB) -> None:
    run(db, [row(7, 50), row(8, 5, "ok")], T0)
    run(db, [row(7, 50), row(8, 6, "ok")], T0 + timedelta(minutes=1))
    after = stored(db)
    assert after['["7","eu"]']["updated_at"] == T0  # nothing changed: no write
    assert after['["8","eu"]']["updated_at"] == T0 + timedelta(minutes=1)  # its value changed
    assert after['["8","eu"]']["actual_value"] == "6"


def test_a_forgotten_instance_is_deleted(db: StateDB) -> None:
    run(db, [row(7, 50), row(8, 50)], T0)
    run(db, [row(8, 50)], T0 + timedelta(minutes=1))
    assert list(stored(db)) == ['["8","eu"]']


def test_silences_of_one_instance(db: StateDB) -> None:
    key = instance_key([7, "eu"])
    silences.add_silence(db, "late", T0, T0 + timedelta(hours=1), "", "ops", key)
    silences.add_silence(db, "other", T0, T0 + timedelta(hours=1), "", "ops", key)
    with db.read() as tx:
        assert silenced_keys(tx, "late", T0 + timedelta(minutes=5)) == {key}
        assert silenced_keys(tx, "late", T0 + timedelta(hours=2)) == frozenset()
        assert silences.silenced_now(tx, "late", T0) is None  # not the whole alert
    assert silences.end_silences(db, "late", T0, instance_key='["9","eu"]') == 0
    assert silences.end_silences(db, "late", T0, instance_key=key) == 1
