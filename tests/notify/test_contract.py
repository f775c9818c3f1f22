"""One contract for every channel: status, retry-after (header or body), permanence,
reference and excerpt of each attempt, recorded in `deliveries`; the one retry loop."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from support import Cli, make_target

from sqlsentinel.core.delivery import Attempt, DeliveryOutcome
from sqlsentinel.notify.deliver import deliver
from sqlsentinel.notify.http import DEFAULT_TABLE, body_retry_after, classify, codes

from .servers import make_event

D, R, P = DeliveryOutcome.DELIVERED, DeliveryOutcome.RETRYABLE, DeliveryOutcome.PERMANENT


@pytest.mark.parametrize(
    ("code", "outcome", "error_class"),
    [
        (200, D, None), (202, D, None), (204, D, None),
        (301, P, "redirect"), (308, P, "redirect"),
        (400, P, "http_status"), (401, P, "http_status"), (403, P, "http_status"),
        (404, P, "http_status"), (408, R, "http_status"), (413, P, "http_status"),
        (429, R, "rate_limited"), (500, R, "http_status"), (503, R, "http_status"),
        (599, R, "http_status"), (101, P, "http_status"),
    ],
)  # fmt: skip
def test_the_default_table_case_by_case(code: int, outcome: str, error_class: str | None) -> None:
    assert classify(code, ()) == (outcome, error_class)


def test_a_channel_row_comes_before_the_default() -> None:
    table = ((codes(404), R, "gone_for_now"),)
    assert classify(404, table) == (R, "gone_for_now")
    assert classify(403, table) == (P, "http_status")
    assert DEFAULT_TABLE[0][0] == range(200, 300)


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ({"retry_after": 1.5, "message": "You are being rate limited."}, 1.5),  # Discord
        ({"ok": False, "error_code": 429, "parameters": {"retry_after": 3}}, 3.0),  # Telegram
        ({"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2500}, 2.5),  # Matrix
        ({"retry_after": "soon"}, None),
        ({"retry_after": True}, None),
        ({"retry_after": -1}, None),
        ({}, None),
    ],
)
def test_retry_after_in_the_body(body: dict[str, Any], seconds: float | None) -> None:
    assert body_retry_after(body) == seconds


def _run(target: Any, attempts: list[Attempt], sleeps: list[float], budget: float = 10.0) -> Any:
    return deliver(
        make_event(), target, smtp=None, deadline=time.monotonic() + budget,
        on_attempt=attempts.append, sleep=sleeps.append,
    )  # fmt: skip


def test_each_attempt_carries_status_retry_after_and_excerpt(httpserver: HTTPServer) -> None:
    limited = json.dumps({"ok": False, "parameters": {"retry_after": 0.25}})
    httpserver.expect_ordered_request("/hook").respond_with_data(limited, status=429)
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "slow down", status=503, headers={"Retry-After": "1"}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data('{"id": "m-7"}', status=200)
    attempts: list[Attempt] = []
    sleeps: list[float] = []
    result = _run(make_target("webhook", url=httpserver.url_for("/hook")), attempts, sleeps)
    assert (result.outcome, result.attempts) == ("delivered", 3)
    assert sleeps == [0.25, 1.0]  # the body's form, then the header's, each honoured
    assert [(a.status_code, a.retry_after) for a in attempts] == [
        (429, 0.25),
        (503, 1.0),
        (200, None),
    ]
    assert attempts[0].error_class == "rate_limited"
    assert attempts[1].excerpt == "slow down" and attempts[2].excerpt == '{"id": "m-7"}'


def test_a_retry_after_past_the_deadline_ends_the_run_and_is_recorded(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/hook").respond_with_json({"retry_after": 30}, status=429)
    attempts: list[Attempt] = []
    sleeps: list[float] = []
    result = _run(make_target("webhook", url=httpserver.url_for("/hook")), attempts, sleeps, 5)
    assert (result.outcome, result.attempts, sleeps) == ("retryable", 1, [])
    assert "past the deadline" in result.detail and attempts[0].retry_after == 30.0


def test_a_permanent_answer_stops_the_loop(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("bad", status=400)
    attempts: list[Attempt] = []
    result = _run(make_target("webhook", url=httpserver.url_for("/hook")), attempts, [])
    assert (result.outcome, result.attempts) == ("permanent", 1)


def test_deliveries_records_what_the_receiver_answered(
    cli: Cli, tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_json(
        {"retry_after_ms": 200, "errcode": "M_LIMIT_EXCEEDED"}, status=429
    )
    httpserver.expect_ordered_request("/hook").respond_with_data("accepted", status=200)
    (tmp_path / "t.db").touch()
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nstate_db: state.db\nalerts:\n"
        "  - name: hooked\n    query: SELECT 'ALERT' AS status\n    schedule: '* * * * *'\n"
        f"    notify:\n      - channel: webhook\n        url: {httpserver.url_for('/hook')}\n"
    )
    assert cli("run", config, timeout=60).rc == 0  # delivered on the retry
    rows = json.loads(cli("deliveries", config, "--json").stdout)
    got = [(r["status_code"], r["retry_after"]) for r in reversed(rows)]
    assert got == [(429, 0.2), (200, None)]
    assert "M_LIMIT_EXCEEDED" in rows[1]["excerpt"] and rows[0]["excerpt"] == "accepted"
