"""A keyed alert's grouped message by email (text and HTML tables, real SMTP) and Slack (real
HTTP), sent by `sqlsentinel run`; long lists are cut in both, never in the webhook."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from support import Cli, free_port

from sqlsentinel.notify.grouped_vars import LISTED_MAX

from .servers import HookServer, Inbox

QUERY = (
    "SELECT id AS warehouse_id, CASE WHEN late > 30 THEN 'ALERT' ELSE 'OK' END AS status, "
    "late AS actual_value, 30 AS threshold, '<b>' || id || '</b>' AS note FROM w"
)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def hook() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.close()


def write(tmp_path: Path, late: dict[int, int], smtp_port: int, hook: HookServer) -> Path:
    with sqlite3.connect(tmp_path / "w.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS w (id INTEGER, late INTEGER)")
        db.execute("DELETE FROM w")
        db.executemany("INSERT INTO w VALUES (?, ?)", late.items())
    path = tmp_path / "alerts.yaml"
    path.write_text(f"""
database: {{url: 'sqlite:///w.db'}}
state_db: state.db
smtp: {{host: 127.0.0.1, port: {smtp_port}, use_tls: false, from_address: s@example.com}}
alerts:
  - name: late
    description: Warehouses behind on shipments
    key: warehouse_id
    query: {json.dumps(QUERY)}
    schedule: "*/5 * * * *"
    notify:
      - {{channel: email, recipients: [ops@example.com]}}
      - {{channel: slack, webhook_url: '{hook.url("/slack")}'}}
      - {{channel: webhook, url: '{hook.url("/hook")}'}}
""")
    return path


def test_email_and_slack_list_the_instances_as_a_table(
    tmp_path: Path, cli: Cli, inbox: tuple[Inbox, int], hook: HookServer
) -> None:
    box, port = inbox
    path = write(tmp_path, {1: 5, 2: 50, 3: 70}, port, hook)
    assert cli("run", path).rc == 0
    write(tmp_path, {1: 5, 2: 50}, port, hook)
    assert cli("run", path).rc == 0
    assert len(box.messages) == 2
    subject = str(box.parsed(0)["Subject"])
    assert subject == "[ALERT] late: 2 firing"
    text, html = box.parts(0)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("warehouse_id"))
    assert header.split() == ["warehouse_id", "change", "value", "threshold", "note", "since"]
    rows = [line.split()[:5] for line in lines[lines.index(header) + 1 :][:2]]
    assert rows == [
        ["2", "firing", "50", "30", "<b>2</b>"],
        ["3", "firing", "70", "30", "<b>3</b>"],
    ]
    assert "Instances:   2 firing, 0 pending, 1 OK" in text
    assert "<th" in html and '<td style="padding:2px 12px 2px 0">&lt;b&gt;3&lt;/b&gt;</td>' in html
    assert "<b>3</b>" not in html  # values are escaped
    assert str(box.parsed(1)["Subject"]) == "[ALERT] late: 1 resolved"
    assert "3             resolved (absent)  70" in box.parts(1)[0]

    slack = [r.json() for r in hook.requests if r.path == "/slack"]
    assert [m["text"] for m in slack] == ["[ALERT] late: 2 firing", "[ALERT] late: 1 resolved"]
    block = slack[0]["attachments"][0]["text"]
    assert "```\nwarehouse_id  change  value  threshold  note" in block
    assert "&lt;b&gt;2&lt;/b&gt;" in block  # mrkdwn-escaped


def test_a_long_list_is_cut_in_messages_but_not_in_the_webhook(
    tmp_path: Path, cli: Cli, inbox: tuple[Inbox, int], hook: HookServer
) -> None:
    box, port = inbox
    path = write(tmp_path, {i: 50 for i in range(1, LISTED_MAX + 11)}, port, hook)
    assert cli("run", path).rc == 0
    text, html = box.parts(0)
    assert text.count(" firing  ") == LISTED_MAX
    assert "… and 10 more (the webhook payload lists every one)" in text
    assert html.count("<tr>") == LISTED_MAX + 1  # the header and the listed rows
    [slack] = [r.json() for r in hook.requests if r.path == "/slack"]
    assert "… and 10 more" in slack["attachments"][0]["text"]
    [webhook] = [r.json() for r in hook.requests if r.path == "/hook"]
    assert len(webhook["instances"]) == LISTED_MAX + 10
