"""`sqlsentinel notify-test CONFIG --alert NAME [--dry-run]` against a real HTTP receiver."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sqlsentinel.cli.notify_test_cmd import notify_test

from .servers import HookServer, Reply

CONFIG = """
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: orders
    query: SELECT 'OK' AS status
    schedule: "*/5 * * * *"
    notify:
      - channel: webhook
        url: {url}
        secret: very-secret-key
      - channel: slack
        webhook_url: {slack}
        max_attempts: 1
"""


def config(tmp_path: Path, hook: HookServer) -> str:
    path = tmp_path / "alerts.yaml"
    slack = hook.url("/services/T0/B0/slack-token-123")
    path.write_text(CONFIG.format(url=hook.url("/a?token=query-token"), slack=slack))
    return str(path)


def test_reports_each_target(tmp_path: Path, hook: HookServer) -> None:
    hook.replies = [Reply(200), Reply(500, b"boom")]
    result = CliRunner().invoke(
        notify_test, [config(tmp_path, hook), "--alert", "orders", "--json"]
    )
    assert result.exit_code == 5, result.output
    rows = json.loads(result.output)
    assert [(r["channel"], r["outcome"], r["attempts"]) for r in rows] == [
        ("webhook", "delivered", 1),
        ("slack", "retryable", 1),
    ]
    assert hook.requests[0].json()["triggered_by"] == "TEST"
    for secret in ("query-token", "slack-token-123", "very-secret-key"):
        assert secret not in result.output


def test_dry_run_sends_nothing(tmp_path: Path, hook: HookServer) -> None:
    result = CliRunner().invoke(
        notify_test, [config(tmp_path, hook), "--alert", "orders", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert hook.requests == []
    assert "dry_run" in result.output and "Test message for orders" in result.output
    for secret in ("query-token", "slack-token-123", "very-secret-key"):
        assert secret not in result.output


def test_unknown_alert(tmp_path: Path, hook: HookServer) -> None:
    result = CliRunner().invoke(notify_test, [config(tmp_path, hook), "--alert", "order"])
    assert result.exit_code != 0
    assert "no alert named 'order'" in str(result.exception)
