"""Receivers and the policy end to end through `sqlsentinel run`, to real HTTP receivers
(pytest-httpserver) and a real SMTP server (aiosmtpd): critical and warning to different
receivers, `continue`, a row's severity choosing its receivers, a per-receiver `repeat`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from notify.servers import Inbox
from pytest_httpserver import HTTPServer
from support import Cli, free_port

HEAD = """
database: {{url: 'sqlite:///target.db'}}
state_db: state.db
smtp: {{host: 127.0.0.1, port: {smtp}, use_tls: false, from_address: s@example.com}}
receivers:
  pager:
    - {{channel: webhook, url: '{pager}', timeout: 5s}}
  chat:
    - {{channel: webhook, url: '{chat}', timeout: 5s}}
  mail:
    - {{channel: email, recipients: [ops@example.com], timeout: 5s}}
policy:
{policy}
"""
ONE_ROW = """
alerts:
  - name: orders
    severity: warning
    query: SELECT status, sev AS severity FROM flag
    schedule: "*/5 * * * *"
    notify: [mail]
"""
KEYED = """
alerts:
  - name: late
    key: id
    query: SELECT id, status, sev AS severity FROM rows ORDER BY id
    schedule: "*/5 * * * *"
"""


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def hooks(httpserver: HTTPServer) -> HTTPServer:
    for path in ("/pager", "/chat"):
        httpserver.expect_request(path, method="POST").respond_with_data("ok")
    return httpserver


def posted(hooks: HTTPServer, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.get_data()) for r, _ in hooks.log if r.path == path]


def write(tmp_path: Path, hooks: HTTPServer, smtp: int, policy: str, alerts: str) -> Path:
    config = tmp_path / "alerts.yaml"
    head = HEAD.format(
        smtp=smtp, pager=hooks.url_for("/pager"), chat=hooks.url_for("/chat"), policy=policy
    )
    config.write_text(head + alerts)
    return config


def table(tmp_path: Path, sql: str, rows: list[tuple[Any, ...]]) -> None:
    with sqlite3.connect(tmp_path / "target.db") as db:
        db.execute(sql)
        name = sql.split()[5]
        db.execute(f"DELETE FROM {name}")
        marks = ", ".join("?" for _ in rows[0])
        db.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)


def flag(tmp_path: Path, status: str, severity: str | None) -> None:
    table(tmp_path, "CREATE TABLE IF NOT EXISTS flag (status TEXT, sev TEXT)", [(status, severity)])


def run(cli: Cli, config: Path, alert: str = "orders") -> str:
    result = cli("run", config, "--alert", alert, "--json")
    assert result.rc == 0, result.stderr
    transition: str = json.loads(result.stdout)[0]["transition"]
    return transition


def dry_run(cli: Cli, config: Path) -> list[str]:
    result = cli("run", config, "--dry-run", "--json")
    assert result.rc == 0, result.stderr
    would: list[str] = json.loads(result.stdout)[0]["would_notify"]
    return would


def test_critical_pages_warning_chats_and_continue_adds(
    tmp_path: Path, cli: Cli, hooks: HTTPServer, inbox: tuple[Inbox, int]
) -> None:
    box, smtp = inbox
    policy = """\
  - match: {severity: critical}
    notify: pager
    continue: true
  - match: {severity: '>=warning', alert: 'ord*'}
    notify: chat
  - notify: pager  # never reached for orders: the rule above matched first
"""
    config = write(tmp_path, hooks, smtp, policy, ONE_ROW)
    assert cli("validate", config).rc == 0
    flag(tmp_path, "ALERT", None)  # the alert's severity: warning
    assert len(dry_run(cli, config)) == 2  # chat and its own mail
    assert run(cli, config) == "firing"
    assert [p["reason"] for p in posted(hooks, "/chat")] == ["firing"]
    assert posted(hooks, "/pager") == []
    flag(tmp_path, "ALERT", "critical")  # from the column: the pager, and (continue) chat
    would = dry_run(cli, config)
    assert len(would) == 3 and "ops@example.com" in would[0]
    assert "/pager" in would[1] and "/chat" in would[2]
    assert run(cli, config) == "escalated"
    flag(tmp_path, "OK", None)
    assert run(cli, config) == "resolved"
    assert [(p["reason"], p["severity"]) for p in posted(hooks, "/pager")] == [
        ("escalated", "critical"), ("resolved", "critical"),
    ]  # fmt: skip
    assert [p["reason"] for p in posted(hooks, "/chat")] == ["firing", "escalated", "resolved"]
    assert len(box.messages) == 3  # its own notify: [mail] gets everything


def test_a_rows_severity_chooses_its_receivers(
    tmp_path: Path, cli: Cli, hooks: HTTPServer, inbox: tuple[Inbox, int]
) -> None:
    _, smtp = inbox
    policy = """\
  - match: {severity: critical}
    notify: pager
  - match: {key: {id: 3}}
    notify: pager
  - notify: chat
"""
    config = write(tmp_path, hooks, smtp, policy, KEYED)
    rows = [(1, "ALERT", "warning"), (2, "ALERT", "critical"), (3, "ALERT", None)]
    table(tmp_path, "CREATE TABLE IF NOT EXISTS rows (id INTEGER, status TEXT, sev TEXT)", rows)
    assert run(cli, config, "late") == "firing"
    [paged] = posted(hooks, "/pager")
    [chatted] = posted(hooks, "/chat")
    assert [(i["key"], i["severity"]) for i in paged["instances"]] == [
        ({"id": 2}, "critical"), ({"id": 3}, "error"),
    ]  # fmt: skip
    assert [i["key"] for i in chatted["instances"]] == [{"id": 1}]
    assert paged["severity"] == "critical" and chatted["severity"] == "warning"


def backdate(tmp_path: Path, seconds: int) -> None:
    """Move every delivery `seconds` into the past (as if that long had passed)."""
    with sqlite3.connect(tmp_path / "state.db") as db:
        rows = db.execute("SELECT event_id, finished_at FROM notifications").fetchall()
        for event_id, finished in rows:
            db.execute(
                "UPDATE notifications SET finished_at = datetime(?, ?) WHERE event_id = ?",
                (finished, f"-{seconds} seconds", event_id),
            )


def test_a_receivers_repeat_runs_on_its_own_clock(
    tmp_path: Path, cli: Cli, hooks: HTTPServer, inbox: tuple[Inbox, int]
) -> None:
    box, smtp = inbox
    policy = """\
  - match: {severity: '>=warning'}
    notify: [pager]
    repeat: 10m
  - match: {severity: '>=warning'}
    notify: [chat]
"""
    config = write(tmp_path, hooks, smtp, policy, ONE_ROW)
    flag(tmp_path, "ALERT", None)
    assert run(cli, config) == "firing"
    assert run(cli, config) == "still_firing"
    assert [p["reason"] for p in posted(hooks, "/pager")] == ["firing"]  # 10m not yet passed
    backdate(tmp_path, 9 * 60)
    run(cli, config)
    assert len(posted(hooks, "/pager")) == 1
    backdate(tmp_path, 60)  # 10 minutes after the delivery
    assert run(cli, config) == "still_firing"
    assert [p["reason"] for p in posted(hooks, "/pager")] == ["firing", "repeat"]
    run(cli, config)  # the clock restarts at the repeat's delivery
    assert [p["reason"] for p in posted(hooks, "/pager")] == ["firing", "repeat"]
    assert [p["reason"] for p in posted(hooks, "/chat")] == []  # first match wins
    assert len(box.messages) == 1  # the alert's own: firing only (no repeat_interval)


def test_a_keyed_repeat_is_per_instance(
    tmp_path: Path, cli: Cli, hooks: HTTPServer, inbox: tuple[Inbox, int]
) -> None:
    _, smtp = inbox
    policy = """\
  - notify: pager
    repeat: 10m
"""
    config = write(tmp_path, hooks, smtp, policy, KEYED)
    create = "CREATE TABLE IF NOT EXISTS rows (id INTEGER, status TEXT, sev TEXT)"
    table(tmp_path, create, [(1, "ALERT", None)])
    assert run(cli, config, "late") == "firing"
    backdate(tmp_path, 5 * 60)
    table(tmp_path, create, [(1, "ALERT", None), (2, "ALERT", None)])
    run(cli, config, "late")  # 2 fires; 1 was told 5 minutes ago
    backdate(tmp_path, 5 * 60)  # 1: 10 minutes since its delivery; 2: 5 minutes
    run(cli, config, "late")
    sent = [
        [(i["key"]["id"], i["reason"]) for i in p["instances"]] for p in posted(hooks, "/pager")
    ]
    assert sent == [[(1, "firing")], [(2, "firing")], [(1, "repeat")]]
