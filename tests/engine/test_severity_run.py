"""Severity end to end through `sqlsentinel run`: from the alert or from the result's
`severity` column, escalations and deescalations while firing, per row for keyed alerts,
to a real HTTP receiver (pytest-httpserver) and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
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

ALERT = """
database: {{url: 'sqlite:///target.db'}}
state_db: state.db
smtp: {{host: 127.0.0.1, port: {smtp}, use_tls: false, from_address: s@example.com}}
defaults:
  severity: warning
{defaults}
alerts:
  - name: orders
    query: SELECT status, sev AS severity, n AS actual_value FROM flag
    schedule: "*/5 * * * *"
    notify:
      - {{channel: webhook, url: '{hook}', timeout: 5s}}
      - {{channel: email, recipients: [ops@example.com], timeout: 5s}}
"""
KEYED = """
database: {{url: 'sqlite:///target.db'}}
state_db: state.db
alerts:
  - name: late
    key: id
    severity: info
    query: SELECT id, status, sev AS severity FROM rows ORDER BY id
    schedule: "*/5 * * * *"
    notify:
      - {{channel: webhook, url: '{hook}', timeout: 5s}}
"""


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def hook(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return httpserver


def posted(hook: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in hook.log]


def subjects(box: Inbox) -> list[str]:
    out = []
    for envelope, _ in box.messages:
        assert isinstance(envelope.content, bytes)
        out.append(
            str(email.message_from_bytes(envelope.content, policy=email.policy.default)["Subject"])
        )
    return out


def flag(tmp_path: Path, status: str, severity: str | None, n: int = 1) -> None:
    with sqlite3.connect(tmp_path / "target.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS flag (status TEXT, sev TEXT, n INTEGER)")
        db.execute("DELETE FROM flag")
        db.execute("INSERT INTO flag VALUES (?, ?, ?)", (status, severity, n))


def one_row(tmp_path: Path, hook: HTTPServer, smtp: int, defaults: str = "") -> Path:
    config = tmp_path / "alerts.yaml"
    config.write_text(ALERT.format(hook=hook.url_for("/hook"), smtp=smtp, defaults=defaults))
    return config


def run(cli: Cli, config: Path, rc: int = 0) -> dict[str, Any]:
    result = cli("run", config, "--alert", "orders", "--json")
    assert result.rc == rc, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)[0]
    return out


def test_escalation_from_the_column_while_firing(
    tmp_path: Path, cli: Cli, hook: HTTPServer, inbox: tuple[Inbox, int]
) -> None:
    box, smtp = inbox
    config = one_row(tmp_path, hook, smtp)
    flag(tmp_path, "ALERT", None)  # no value: the alert's severity (warning, from defaults)
    assert run(cli, config)["transition"] == "firing"
    flag(tmp_path, "ALERT", "Critical", 2)
    dry = json.loads(cli("run", config, "--dry-run", "--json").stdout)[0]
    assert (dry["transition"], dry["severity"]) == ("escalated", "critical")
    escalated = run(cli, config)
    assert (escalated["transition"], escalated["severity"]) == ("escalated", "critical")
    assert run(cli, config)["transition"] == "still_firing"  # told already: nothing new
    flag(tmp_path, "OK", None)
    assert run(cli, config)["transition"] == "resolved"

    sent = posted(hook)
    assert [(p["reason"], p["severity"]) for p in sent] == [
        ("firing", "warning"), ("escalated", "critical"), ("resolved", "critical"),
    ]  # fmt: skip
    assert sent[1]["state"] == "ALERT" and sent[1]["actual_value"] == 2
    assert "severity" not in sent[1]["context"]  # a contract column, not context
    assert subjects(box) == [
        "[ALERT warning] orders is firing",
        "[ALERT critical] orders escalated to critical",
        "[OK critical] orders is resolved",
    ]
    text = str(email.message_from_bytes(box.messages[1][0].content, policy=email.policy.default)
               .get_body(("plain",)).get_content())  # type: ignore[union-attr]  # fmt: skip
    assert "Severity:    critical" in text

    history = json.loads(cli("history", config, "--json").stdout)
    assert [(h["transition"], h["severity"]) for h in reversed(history)] == [
        ("firing", "warning"), ("escalated", "critical"), ("still_firing", "critical"),
        ("resolved", "critical"),
    ]  # fmt: skip
    status = cli("status", config)
    assert status.rc == 0 and "SEVERITY" in status.stdout.splitlines()[0]
    assert json.loads(cli("status", config, "--json").stdout)[0]["severity"] == "critical"
    metrics = cli("metrics", config).stdout
    assert 'sqlsentinel_alert_severity{alert="orders",severity="critical"} 1' in metrics


def test_deescalation_notifies(
    tmp_path: Path, cli: Cli, hook: HTTPServer, inbox: tuple[Inbox, int]
) -> None:
    box, smtp = inbox
    config = one_row(tmp_path, hook, smtp)
    flag(tmp_path, "ALERT", "critical")
    run(cli, config)
    flag(tmp_path, "ALERT", "info")
    assert run(cli, config)["transition"] == "deescalated"
    assert [(p["reason"], p["severity"]) for p in posted(hook)] == [
        ("firing", "critical"), ("deescalated", "info"),
    ]  # fmt: skip
    assert subjects(box)[1] == "[ALERT info] orders deescalated to info"


def test_notify_on_deescalate_false_keeps_a_fall_quiet(
    tmp_path: Path, cli: Cli, hook: HTTPServer, inbox: tuple[Inbox, int]
) -> None:
    box, smtp = inbox
    config = one_row(tmp_path, hook, smtp, defaults="  notify_on_deescalate: false")
    flag(tmp_path, "ALERT", "critical")
    run(cli, config)
    flag(tmp_path, "ALERT", "warning")
    assert run(cli, config)["transition"] == "deescalated"  # named in history, not sent
    assert run(cli, config)["transition"] == "still_firing"
    flag(tmp_path, "ALERT", "critical")
    assert run(cli, config)["transition"] == "still_firing"  # what was told: no news
    flag(tmp_path, "OK", None)
    run(cli, config)
    assert [(p["reason"], p["severity"]) for p in posted(hook)] == [
        ("firing", "critical"), ("resolved", "critical"),
    ]  # fmt: skip
    assert len(box.messages) == 2


def test_an_unknown_severity_is_a_named_outcome(
    tmp_path: Path, cli: Cli, hook: HTTPServer, inbox: tuple[Inbox, int]
) -> None:
    _, smtp = inbox
    config = one_row(tmp_path, hook, smtp)
    flag(tmp_path, "ALERT", "urgent")
    out = run(cli, config, rc=1)  # the check failed
    assert (out["outcome"], out["state"]) == ("bad_severity", "ERROR")
    assert "'urgent'" in out["error"] and "info, warning, error, critical" in out["error"]
    [error] = posted(hook)
    assert (error["reason"], error["severity"]) == ("error", "warning")


def keyed_rows(tmp_path: Path, rows: list[tuple[int, str, str | None]]) -> None:
    with sqlite3.connect(tmp_path / "target.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER, status TEXT, sev TEXT)")
        db.execute("DELETE FROM rows")
        db.executemany("INSERT INTO rows VALUES (?, ?, ?)", rows)


def test_keyed_severity_per_row(tmp_path: Path, cli: Cli, hook: HTTPServer) -> None:
    config = tmp_path / "alerts.yaml"
    config.write_text(KEYED.format(hook=hook.url_for("/hook")))
    keyed_rows(tmp_path, [(1, "ALERT", "warning"), (2, "ALERT", None), (3, "OK", "critical")])
    assert cli("run", config).rc == 0
    keyed_rows(tmp_path, [(1, "ALERT", "critical"), (2, "ALERT", None), (3, "OK", None)])
    assert cli("run", config).rc == 0
    keyed_rows(tmp_path, [(1, "ALERT", "x"), (2, "ALERT", None), (3, "OK", None)])
    bad = cli("run", config, "--json")
    assert bad.rc == 1, bad.stderr
    failed = json.loads(bad.stdout)[0]
    assert failed["outcome"] == "bad_severity" and "row 1 (id=1)" in failed["error"]

    first, second, error = posted(hook)
    assert first["severity"] == "warning"  # the loudest it lists
    assert sorted((i["key"]["id"], i["reason"], i["severity"]) for i in first["instances"]) == [
        (1, "firing", "warning"), (2, "firing", "info"),
    ]  # fmt: skip
    assert [(i["key"]["id"], i["reason"], i["severity"]) for i in second["instances"]] == [
        (1, "escalated", "critical"),
    ]
    assert second["severity"] == "critical" and error["reason"] == "error"
    lines = json.loads(cli("status", config, "--alert", "late", "--json").stdout)
    assert {r["instance_key"]: r["severity"] for r in lines} == {
        '["1"]': "critical",
        '["2"]': "info",
        '["3"]': "info",
    }
