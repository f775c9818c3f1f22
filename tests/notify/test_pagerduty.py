"""`channel: pagerduty` against a local server that checks the Events API v2 contract and
answers its documented errors."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from support import Cli, make_target
from werkzeug import Request, Response

from sqlsentinel.cli.notify_test_cmd import notify_test
from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.delivery import Attempt, DeliveryOutcome
from sqlsentinel.core.severity import Severity
from sqlsentinel.notify.channels import get_channel
from sqlsentinel.notify.channels.pagerduty import SUMMARY_LIMIT, TABLE, dedup_key, options
from sqlsentinel.notify.deliver import deliver, preview
from sqlsentinel.notify.http import classify

from .servers import make_event

KEY = "R0UTINGkey0123456789abcdefABCDEF"  # 32 characters, as PagerDuty issues them
SEVERITIES = ("critical", "error", "warning", "info")
D, R, P = DeliveryOutcome.DELIVERED, DeliveryOutcome.RETRYABLE, DeliveryOutcome.PERMANENT


def contract_errors(request: Request) -> list[str]:
    """What PagerDuty's Events API v2 would refuse in `request` (empty: a valid event)."""
    if request.method != "POST" or request.path != "/v2/enqueue":
        return [f"{request.method} {request.path} is not the enqueue endpoint"]
    if not request.content_type.startswith("application/json"):
        return ["Content-Type must be application/json"]
    body = json.loads(request.get_data())
    errors = []
    if body.get("routing_key") != KEY:
        errors.append("routing_key is unknown")
    if body.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        errors.append("event_action is invalid")
    if not isinstance(body.get("dedup_key"), str) or not 0 < len(body["dedup_key"]) <= 255:
        errors.append("dedup_key must be a string of at most 255 characters")
    if body.get("event_action") == "trigger":
        p = body.get("payload") or {}
        if not isinstance(p.get("summary"), str) or not 0 < len(p["summary"]) <= SUMMARY_LIMIT:
            errors.append("payload.summary is missing or longer than 1024")
        if not p.get("source"):
            errors.append("payload.source is missing")
        if p.get("severity") not in SEVERITIES:
            errors.append("payload.severity is invalid")
        if "timestamp" in p and not str(p["timestamp"]).endswith("Z"):
            errors.append("payload.timestamp is not ISO 8601")
    return errors


class PagerDuty:
    """A local Events API v2: records valid events, answers as PagerDuty documents."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.events: list[dict[str, Any]] = []
        self.rate_limited = 0  # answer this many requests with 429 first
        self.failing = 0  # answer this many with 502 first
        server.expect_request("/v2/enqueue").respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def handle(self, request: Request) -> Response:
        if self.rate_limited:
            self.rate_limited -= 1
            return Response(json.dumps({"status": "throttle event"}), 429)
        if self.failing:
            self.failing -= 1
            return Response("<html>Bad Gateway</html>", 502)
        errors = contract_errors(request)
        if errors:
            doc = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
            return Response(json.dumps(doc), 400, content_type="application/json")
        body = json.loads(request.get_data())
        self.events.append(body)
        ok = {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}
        return Response(json.dumps(ok), 202, content_type="application/json")


@pytest.fixture
def pd(httpserver: HTTPServer) -> PagerDuty:
    return PagerDuty(httpserver)


def _send(
    event: Any, target: Any, attempts: list[Attempt], sleeps: list[float] | None = None
) -> Any:
    return deliver(
        event, target, smtp=None, deadline=time.monotonic() + 10, on_attempt=attempts.append,
        sleep=(sleeps if sleeps is not None else []).append,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(202, D), (200, D), (400, P), (401, P), (403, P), (404, P), (413, P), (429, R),
     (500, R), (502, R), (503, R)],
)  # fmt: skip
def test_pagerduty_table_case_by_case(code: int, outcome: str) -> None:
    assert classify(code, TABLE)[0] == outcome


def test_trigger_repeat_resolve_carry_one_dedup_key(pd: PagerDuty) -> None:
    target = make_target("pagerduty", routing_key=KEY, url=pd.url, client_url="https://ops/")
    attempts: list[Attempt] = []
    for reason, state in (("firing", "ALERT"), ("repeat", "ALERT"), ("resolved", "OK")):
        event = make_event(reason=NotifyReason(reason), state=state, severity=Severity.CRITICAL)
        result = _send(event, target, attempts)
        assert result.outcome == "delivered", result.detail
    actions = [(e["event_action"], e["dedup_key"]) for e in pd.events]
    key = dedup_key("orders_late")
    assert actions == [("trigger", key), ("trigger", key), ("resolve", key)]
    assert [a.reference for a in attempts] == [key] * 3  # PagerDuty's answer, recorded
    assert [a.status_code for a in attempts] == [202] * 3
    first = pd.events[0]
    p = first["payload"]
    assert p["severity"] == "critical"  # from the alert's severity
    assert p["timestamp"] == "2026-03-01T12:30:00Z" and p["component"] == "orders_late"
    assert p["custom_details"]["value"] == 12.5 and p["custom_details"]["threshold"] == 10
    assert p["summary"].startswith("[ALERT] orders_late: Orders stuck")
    assert (first["client"], first["client_url"]) == ("SQL Sentinel", "https://ops/")


def test_the_dedup_key_is_stable_and_distinct() -> None:
    assert dedup_key("a") == dedup_key("a") != dedup_key("b")
    assert dedup_key("a", "1") != dedup_key("a", "") and dedup_key("a", "1") == dedup_key("a", "1")
    assert dedup_key("ab", "c") != dedup_key("a", "bc")


def test_a_long_summary_is_cut_visibly(pd: PagerDuty) -> None:
    target = make_target("pagerduty", routing_key=KEY, url=pd.url)
    event = make_event(description="x" * 5000)
    assert _send(event, target, []).outcome == "delivered"  # the server checks the limit
    summary = pd.events[0]["payload"]["summary"]
    assert len(summary) == SUMMARY_LIMIT and summary.endswith("…")


def test_429_and_5xx_are_retried(pd: PagerDuty) -> None:
    pd.rate_limited, pd.failing = 1, 1
    attempts: list[Attempt] = []
    sleeps: list[float] = []
    result = _send(
        make_event(), make_target("pagerduty", routing_key=KEY, url=pd.url), attempts, sleeps
    )
    assert (result.outcome, result.attempts, len(sleeps)) == ("delivered", 3, 2)
    assert [(a.status_code, a.error_class) for a in attempts] == [
        (429, "rate_limited"), (502, "http_status"), (202, None)
    ]  # fmt: skip
    assert len(pd.events) == 1


def test_400_is_permanent_and_names_the_error(pd: PagerDuty) -> None:
    attempts: list[Attempt] = []
    target = make_target("pagerduty", routing_key="wrong-key", url=pd.url)
    result = _send(make_event(), target, attempts)
    assert (result.outcome, result.attempts) == ("permanent", 1)
    assert (attempts[0].status_code, attempts[0].error_class) == (400, "invalid_event")
    assert "routing_key is unknown" in attempts[0].excerpt


def test_the_eu_region_and_the_default_host() -> None:
    assert options(make_target("pagerduty", routing_key=KEY, region="eu")).endpoint == (
        "https://events.eu.pagerduty.com/v2/enqueue"
    )
    assert options(make_target("pagerduty", routing_key=KEY)).endpoint == (
        "https://events.pagerduty.com/v2/enqueue"
    )


def test_the_routing_key_is_redacted_everywhere(pd: PagerDuty) -> None:
    target = make_target("pagerduty", routing_key=KEY, url=pd.url)
    channel = get_channel("pagerduty")
    assert KEY in channel.secrets(target, None)
    shown = json.dumps(preview(make_event(), target, smtp=None)) + channel.describe(target)
    assert KEY not in shown and pd.events == []
    attempts: list[Attempt] = []
    _send(make_event(), make_target("pagerduty", routing_key=KEY + "x", url=pd.url), attempts)
    assert KEY not in attempts[0].detail + attempts[0].excerpt


def _keyed_config(tmp_path: Path, pd: PagerDuty, late: dict[int, int]) -> Path:
    with sqlite3.connect(tmp_path / "w.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS w (id INTEGER, late INTEGER)")
        db.execute("DELETE FROM w")
        db.executemany("INSERT INTO w VALUES (?, ?)", late.items())
    query = (
        "SELECT id AS warehouse_id, CASE WHEN late > 30 THEN 'ALERT' ELSE 'OK' END AS status, "
        "late AS actual_value, 30 AS threshold FROM w"
    )
    path = tmp_path / "alerts.yaml"
    path.write_text(f"""
database: {{url: 'sqlite:///w.db'}}
state_db: state.db
alerts:
  - name: late
    key: warehouse_id
    severity: warning
    query: {json.dumps(query)}
    schedule: "*/5 * * * *"
    notify:
      - {{channel: pagerduty, routing_key: {KEY}, url: '{pd.url}', source: db1}}
""")
    return path


def test_a_keyed_alert_pages_each_instance_and_resolves_each(
    cli: Cli, tmp_path: Path, pd: PagerDuty
) -> None:
    config = _keyed_config(tmp_path, pd, {1: 40, 2: 50, 3: 0})
    assert cli("run", config, timeout=60).rc == 0
    triggers = {e["dedup_key"]: e for e in pd.events}
    assert len(triggers) == 2 and {e["event_action"] for e in pd.events} == {"trigger"}
    assert {e["payload"]["custom_details"]["key"]["warehouse_id"] for e in pd.events} == {1, 2}
    assert {e["payload"]["severity"] for e in pd.events} == {"warning"}
    assert {e["payload"]["source"] for e in pd.events} == {"db1"}
    pd.events.clear()
    _keyed_config(tmp_path, pd, {1: 0, 2: 50, 3: 0})
    assert cli("run", config, timeout=60).rc == 0
    [resolve] = pd.events
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] in triggers
    assert "payload" not in resolve
    rows = json.loads(cli("deliveries", config, "--json").stdout)
    assert rows[0]["reference"] == resolve["dedup_key"]
    assert KEY not in json.dumps(rows)


def test_notify_test_pages_and_hides_the_key(tmp_path: Path, pd: PagerDuty) -> None:
    config = _keyed_config(tmp_path, pd, {})
    result = CliRunner().invoke(notify_test, [str(config), "--alert", "late", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert (row["channel"], row["outcome"]) == ("pagerduty", "delivered")
    [event] = pd.events
    assert event["payload"]["severity"] == "info" and event["dedup_key"] != dedup_key("late")
    assert KEY not in result.output


def test_validate_names_a_bad_region(cli: Cli, tmp_path: Path, pd: PagerDuty) -> None:
    config = _keyed_config(tmp_path, pd, {})
    config.write_text(config.read_text().replace("source: db1", "region: mars"))
    result = cli("validate", config)
    assert result.rc != 0 and "region" in result.stderr + result.stdout
    assert "alerts.yaml:" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
