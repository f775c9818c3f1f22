"""Notifications end to end through `sqlsentinel run`: outbox, retries across runs, silences."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from notify.servers import HookServer, Reply
from support import Cli

CONFIG = """
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: orders
    query: SELECT status, 7 AS actual_value, 5 AS threshold, 'eu' AS region FROM flag
    schedule: "*/5 * * * *"
    notify:
      - channel: webhook
        url: {url}
        max_attempts: 2
        timeout: 2s
"""


@pytest.fixture
def hook() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.close()


def _flag(tmp_path: Path, status: str) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "target.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS flag (status TEXT)")
        db.execute("DELETE FROM flag")
        db.execute("INSERT INTO flag VALUES (?)", (status,))


def _setup(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "alerts.yaml"
    config.write_text(CONFIG.format(url=url))
    return config


def test_failed_delivery_is_retried_next_run_and_sent_exactly_once(
    tmp_path: Path, cli: Cli, hook: HookServer
) -> None:
    config = _setup(tmp_path, hook.url())
    _flag(tmp_path, "ALERT")
    hook.default = Reply(status=503)
    first = cli("run", config, "--alert", "orders", "--json")
    assert first.rc == 5, first.stderr  # the check ran; delivery failed
    assert len(hook.requests) == 2  # max_attempts: 2 within the run
    out = json.loads(first.stdout)[0]
    assert out["state"] == "ALERT" and out["notifications"][0]["outcome"] == "pending"

    hook.default = Reply(status=200)
    second = cli("run", config, "--alert", "orders", "--json")
    assert second.rc == 0, second.stderr
    assert len(hook.requests) == 3
    event_ids = {r.json()["event_id"] for r in hook.requests}
    assert len(event_ids) == 1  # the same event, retried
    payload = hook.requests[-1].json()
    assert payload["reason"] == "firing" and payload["actual_value"] == 7
    assert payload["context"] == {"region": "eu"}

    third = cli("run", config, "--alert", "orders")
    assert third.rc == 0 and len(hook.requests) == 3  # still firing: nothing new to send

    rows = json.loads(cli("deliveries", config, "--json").stdout)
    assert [(r["attempt"], r["outcome"], r["status_code"]) for r in reversed(rows)] == [
        (1, "retryable", 503),
        (2, "retryable", 503),
        (3, "delivered", 200),
    ]
    history = json.loads(cli("history", config, "--json", "--limit", "3").stdout)
    firing = history[-1]
    assert firing["transition"] == "firing"
    assert firing["notified"][0]["outcome"] == "delivered"


def test_resolve_and_silence(tmp_path: Path, cli: Cli, hook: HookServer) -> None:
    config = _setup(tmp_path, hook.url())
    _flag(tmp_path, "OK")
    assert cli("run", config).rc == 0
    assert hook.requests == []  # first run OK: nothing to say
    silenced = cli("silence", config, "--alert", "orders", "--duration", "1h", "--reason", "deploy")
    assert silenced.rc == 0, silenced.stderr
    _flag(tmp_path, "ALERT")
    assert cli("run", config).rc == 0
    assert hook.requests == []  # firing while silenced: withheld
    status = json.loads(cli("status", config, "--json").stdout)[0]
    assert status["state"] == "ALERT" and status["silence_reason"] == "deploy"
    assert cli("unsilence", config, "--alert", "orders").rc == 0
    assert cli("run", config).rc == 0
    assert [r.json()["reason"] for r in hook.requests] == ["silence_ended"]
    _flag(tmp_path, "ok")
    assert cli("run", config).rc == 0
    assert [r.json()["reason"] for r in hook.requests] == ["silence_ended", "resolved"]
    assert hook.requests[-1].json()["previous_state"] == "ALERT"


def test_dry_run_sends_and_records_nothing(tmp_path: Path, cli: Cli, hook: HookServer) -> None:
    config = _setup(tmp_path, hook.url())
    _flag(tmp_path, "ALERT")
    result = cli("run", config, "--dry-run", "--json")
    assert result.rc == 0, result.stderr
    row = json.loads(result.stdout)[0]
    assert row["transition"] == "firing"
    assert row["would_send"] and hook.requests == []
    assert json.loads(cli("history", config, "--json").stdout) == []


def test_a_slow_target_does_not_delay_the_others(tmp_path: Path, cli: Cli) -> None:
    slow, fast = HookServer(), HookServer()
    try:
        slow.default = Reply(delay=3.0)
        config = tmp_path / "alerts.yaml"
        config.write_text(
            CONFIG.format(url=slow.url()) + f"      - channel: webhook\n        url: {fast.url()}\n"
        )
        _flag(tmp_path, "ALERT")
        assert cli("run", config, "--alert", "orders").rc == 5  # the slow one timed out
        rows = json.loads(cli("deliveries", config, "--json").stdout)
        first = {r["target"].split()[-1]: r for r in rows if r["attempt"] == 1}
        fast_start = datetime.fromisoformat(first[fast.url()]["started_at"])
        slow_start = datetime.fromisoformat(first[slow.url()]["started_at"])
        assert abs((fast_start - slow_start).total_seconds()) < 1.0  # served side by side
        assert first[fast.url()]["outcome"] == "delivered" and len(fast.requests) == 1
    finally:
        slow.close()
        fast.close()
