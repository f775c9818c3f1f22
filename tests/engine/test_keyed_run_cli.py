"""Per-row alerts (`key:`) through `sqlsentinel run`, with a real HTTP receiver, on SQLite and
PostgreSQL state databases: grouped messages, per-instance dedup, resolve on absence,
silences of one instance, refused results that change nothing, and the reading commands."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notify.servers import HookServer
from support import Cli

from sqlsentinel.state.db import StateDB

QUERY = (
    "SELECT id AS warehouse_id, CASE WHEN late > 30 THEN 'ALERT' ELSE 'OK' END AS status, "
    "late AS actual_value, 30 AS threshold, region FROM w"
)


def config(hook: str, extra: str = "", query: str = QUERY) -> str:
    return f"""
database:
  url: sqlite:///w.db
alerts:
  - name: late
    key: [warehouse_id]
    query: {json.dumps(query)}
    schedule: "*/5 * * * *"
{extra}    notify:
      - channel: webhook
        url: {hook}
"""


class Case:
    """One test's alert: its config, its alert database (minutes late per warehouse), its runs."""

    def __init__(self, cli: Cli, tmp_path: Path, hook: HookServer) -> None:
        self.cli, self.hook = cli, hook
        self.path, self.db = tmp_path / "alerts.yaml", tmp_path / "w.db"
        with sqlite3.connect(self.db) as db:
            db.execute("CREATE TABLE w (id INTEGER, late INTEGER, region TEXT)")
        self.alerts()

    def alerts(self, extra: str = "", query: str = QUERY) -> None:
        self.path.write_text(config(self.hook.url(), extra, query))

    def late(self, minutes: dict[int | None, int]) -> None:
        with sqlite3.connect(self.db) as db:
            db.execute("DELETE FROM w")
            db.executemany(
                "INSERT INTO w VALUES (?, ?, ?)",
                [(i, m, "eu" if (i or 0) % 2 else "us") for i, m in minutes.items()],
            )

    def run(self, rc: int = 0) -> list[dict[str, Any]]:
        done = self.cli("run", self.path, "--json")
        assert done.rc == rc, done
        return list(json.loads(done.stdout))

    def lines(self) -> list[dict[str, Any]]:
        done = self.cli("status", self.path, "--alert", "late", "--json")
        assert done.rc == 0, done
        return list(json.loads(done.stdout))

    def instances(self) -> dict[str, tuple[str, Any]]:
        return {r["key"]: (r["state"], r["actual_value"]) for r in self.lines()}

    def sent(self, n: int) -> dict[str, Any]:
        body: dict[str, Any] = self.hook.requests[n].json()
        return body


@pytest.fixture
def hook() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def case(request: pytest.FixtureRequest, tmp_path: Path, cli: Cli, hook: HookServer) -> Case:
    if request.param == "sqlite":
        state = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        state = str(request.getfixturevalue("pg_url")).replace("+psycopg", "")
    cli.env["SQLSENTINEL_STATE_DB"] = state
    return Case(cli, tmp_path, hook)


def test_grouped_message_and_per_instance_dedup_across_three_runs(case: Case) -> None:
    case.late({1: 5, 2: 50, 3: 70})
    [first] = case.run()
    assert first["state"] == "ALERT"
    assert first["instances"]["counts"] == {"ALERT": 2, "PENDING": 0, "OK": 1}
    [request] = case.hook.requests
    body = request.json()
    assert body["schema_version"] == 2 and body["key"] == ["warehouse_id"]
    assert request.headers["Idempotency-Key"] == body["event_id"]
    told = [(i["key"], i["reason"], i["actual_value"], i["context"]) for i in body["instances"]]
    assert told == [
        ({"warehouse_id": 2}, "firing", 50, {"region": "us"}),
        ({"warehouse_id": 3}, "firing", 70, {"region": "eu"}),
    ]

    case.run()  # still firing, nothing new: no message
    assert len(case.hook.requests) == 1

    case.late({1: 40, 2: 50})  # 1 starts firing, 3 is gone: resolved
    case.run()
    assert len(case.hook.requests) == 2
    later = case.sent(1)
    assert [(i["key"], i["reason"], i["state"], i["in_result"]) for i in later["instances"]] == [
        ({"warehouse_id": 1}, "firing", "ALERT", True),
        ({"warehouse_id": 3}, "resolved", "OK", False),
    ]
    ids = {i["event_id"] for n in range(2) for i in case.sent(n)["instances"]}
    assert len(ids) == 4  # one event per instance transition, never twice
    assert later["counts"] == {"ALERT": 2, "PENDING": 0, "OK": 0}
    assert case.instances() == {"warehouse_id=1": ("ALERT", 40), "warehouse_id=2": ("ALERT", 50)}


def test_reading_commands_show_instances(case: Case) -> None:
    case.late({1: 5, 2: 50})
    case.run()
    case.late({1: 45, 2: 50})
    case.run()
    cli, path = case.cli, case.path
    [status] = json.loads(cli("status", path, "--json").stdout)
    assert status["instances"] == "2/2 firing" and status["state"] == "ALERT"
    assert "2/2 firing" in cli("status", path).stdout
    newest, oldest = json.loads(cli("history", path, "--json").stdout)
    assert oldest["instances"]["counts"] == {"ALERT": 1, "PENDING": 0, "OK": 1}
    changed = {"key": {"warehouse_id": 1}, "from": "OK", "to": "ALERT"}
    assert newest["instances"]["changed"] == [changed]
    assert "ALERT 2; 1 OK→ALERT" in cli("history", path).stdout
    metrics = cli("metrics", path).stdout
    assert 'sqlsentinel_alert_instance_firing{alert="late",warehouse_id="1"} 1' in metrics
    assert 'sqlsentinel_alert_instances{alert="late",state="ALERT"} 2' in metrics
    assert 'sqlsentinel_alert_instance_last_value{alert="late",warehouse_id="2"} 50' in metrics


def test_on_missing_keep_leaves_an_absent_instance_as_it_was(case: Case) -> None:
    case.alerts(extra="    on_missing: keep\n")
    case.late({1: 50, 2: 50})
    case.run()
    case.late({2: 50})
    case.run()
    assert len(case.hook.requests) == 1  # no resolve for the absent one
    assert case.instances() == {"warehouse_id=1": ("ALERT", 50), "warehouse_id=2": ("ALERT", 50)}


def test_silence_of_one_instance(case: Case) -> None:
    key = ("--alert", "late", "--key", "warehouse_id=2")
    silenced = case.cli("silence", case.path, *key, "--duration", "1h", "--reason", "works")
    assert silenced.rc == 0 and "silenced 'late' warehouse_id=2 until" in silenced.stdout, silenced
    case.late({2: 50, 3: 70})
    case.run()
    [request] = case.hook.requests
    assert [i["key"] for i in request.json()["instances"]] == [{"warehouse_id": 3}]
    until = {r["key"]: r["silenced_until"] for r in case.lines()}
    assert until["warehouse_id=2"] is not None and until["warehouse_id=3"] is None
    ended = case.cli("unsilence", case.path, *key)
    assert ended.stdout.strip() == "ended 1 silence(s) of 'late' warehouse_id=2", ended
    case.run()
    told = [(i["key"], i["reason"]) for i in case.sent(1)["instances"]]
    assert told == [({"warehouse_id": 2}, "silence_ended")]


def test_silence_key_names_a_key_column(case: Case) -> None:
    wrong = case.cli("silence", case.path, "--alert", "late", "--key", "id=2", "--duration", "1h")
    assert wrong.rc == 2
    assert "--key 'id=2': write COLUMN=VALUE with a key column of 'late' (warehouse_id)" in (
        wrong.stderr
    )


@pytest.mark.parametrize(
    ("rows", "query", "outcome", "message"),
    [
        ({1: 50, None: 50}, QUERY, "null_key", "row 2 has NULL in key column 'warehouse_id'"),
        ({1: 50}, QUERY + " UNION ALL " + QUERY, "duplicate_key",
         "rows 1 and 2 have the same key warehouse_id=1"),
        ({1: 50}, QUERY.replace("id AS warehouse_id", "id"), "missing_key",
         "the result has no key column 'warehouse_id'"),
        ({1: 50, 2: 50, 3: 50, 4: 50}, QUERY, "too_many_instances",
         "the query returned more than 3 rows (max_instances: 3)"),
    ],
)  # fmt: skip
def test_a_refused_result_changes_no_instance(
    case: Case, rows: dict[int | None, int], query: str, outcome: str, message: str
) -> None:
    limit = "    max_instances: 3\n"
    case.alerts(extra=limit)
    case.late({1: 50, 2: 5})
    case.run()
    before = case.instances()
    case.alerts(extra=limit, query=query)
    case.late(rows)
    [failed] = case.run(rc=1)
    assert (failed["outcome"], failed["state"], failed["transition"]) == (outcome, "ERROR", "error")
    assert failed["error"].startswith("alert 'late': ") and message in failed["error"]
    assert case.instances() == before  # nothing half-recorded
    error = case.sent(1)
    assert (error["reason"], error["state"], error["instances"]) == ("error", "ERROR", [])
    assert message in error["error"]

    case.alerts(extra=limit)
    case.late({1: 50, 2: 5})
    [back] = case.run()
    assert back["state"] == "ALERT"
    recovered = case.sent(2)
    assert (recovered["reason"], recovered["previous_state"]) == ("resolved", "ERROR")
    assert recovered["instances"] == []  # instance 1 fired before: not told again
    assert len(case.hook.requests) == 3


def test_dry_run_shows_the_grouped_message_and_records_nothing(case: Case) -> None:
    case.late({1: 5})
    case.run()
    case.late({1: 50})
    done = case.cli("run", case.path, "--dry-run", "--json")
    assert done.rc == 0, done
    [row] = json.loads(done.stdout)
    [message] = row["would_send"]
    assert message["body"]["instances"][0]["key"] == {"warehouse_id": 1}
    assert row["would_notify"] == [f"webhook POST {case.hook.url()} (1 firing)"]
    changed = {"key": {"warehouse_id": 1}, "from": "OK", "to": "ALERT"}
    assert row["instances"]["changed"] == [changed]
    assert case.hook.requests == [] and case.instances() == {"warehouse_id=1": ("OK", 5)}
    with StateDB(case.cli.env["SQLSENTINEL_STATE_DB"]).read() as tx:
        assert tx.scalar("SELECT count(*) FROM history") == 1


def test_a_keyed_result_that_cannot_be_written_is_recorded_by_the_next_run(
    tmp_path: Path, cli: Cli, hook: HookServer
) -> None:
    """The spool keeps the instances too; both runs' messages then go out, oldest first."""
    case = Case(cli, tmp_path, hook)
    case.late({1: 50, 2: 5})
    (tmp_path / "held").write_text("")  # a file where the state database's folder must be
    cli.env["SQLSENTINEL_STATE_DB"] = f"sqlite:///{tmp_path / 'held' / 'state.db'}"
    lost = cli("run", case.path, "--triggered-by", "CRON")
    assert lost.rc == 4 and "the result of this run is kept in" in lost.stderr, lost
    (tmp_path / "held").unlink()  # the same state database can be created now
    case.late({1: 50, 2: 50})
    case.run()
    newest, spooled = json.loads(cli("history", case.path, "--json").stdout)
    assert (spooled["spooled"], spooled["triggered_by"]) == (True, "CRON")
    assert spooled["instances"]["counts"] == {"ALERT": 1, "PENDING": 0, "OK": 1}
    assert newest["instances"]["changed"] == [{"key": {"warehouse_id": 2}, "from": "OK",
                                               "to": "ALERT"}]  # fmt: skip
    told = [[i["key"]["warehouse_id"] for i in case.sent(n)["instances"]] for n in range(2)]
    assert told == [[1], [2]]
