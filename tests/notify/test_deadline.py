"""Every attempt ends at min(its timeout, the run's deadline) in total, whatever the receiver
does: real servers that answer one byte at a time (HTTP and SMTP), and a stuck attempt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import Cli, make_target

from sqlsentinel.core.delivery import Attempt
from sqlsentinel.core.spec import SmtpSpec, TargetSpec
from sqlsentinel.notify.channels import SendResult
from sqlsentinel.notify.deadline import bounded
from sqlsentinel.notify.deliver import DeliveryResult, deliver

from .servers import DripServer, make_event

HTTP_DRIP = b"HTTP/1.1 200 OK\r\nX-Drip: "  # then one `a` every 0.2 s, for ever
SMTP_GREETING = b"220 slow.example ESMTP\r\n"
SMTP_DRIP = b"250-slow.example says hello very slowly"


@pytest.fixture
def http_drip() -> Iterator[DripServer]:
    server = DripServer(HTTP_DRIP)
    yield server
    server.close()


@pytest.fixture
def smtp_drip() -> Iterator[DripServer]:
    server = DripServer(SMTP_DRIP, greeting=SMTP_GREETING)
    yield server
    server.close()


def timed(call: Callable[[], DeliveryResult], limit: float = 20) -> tuple[DeliveryResult, float]:
    """`call()` and how long it took; fails (instead of hanging) past `limit` seconds."""
    box: list[DeliveryResult] = []
    start = time.monotonic()
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(limit)
    assert box, f"still delivering after {limit} s: the deadline did not hold"
    return box[0], time.monotonic() - start


def send(target: TargetSpec, attempts: list[Attempt], budget: float, **kw: Any) -> Any:
    return lambda: deliver(
        make_event(), target, deadline=time.monotonic() + budget,
        on_attempt=attempts.append, sleep=lambda _s: None, **kw,
    )  # fmt: skip


def test_a_dripping_http_receiver_cannot_stretch_an_attempt(
    http_drip: DripServer, attempts: list[Attempt]
) -> None:
    target = make_target("webhook", url=http_drip.url(), timeout=1.0, max_attempts=2)
    result, took = timed(send(target, attempts, budget=60, smtp=None))
    assert took < 10  # two attempts of 1 s each, not the drip's for ever (a loaded machine adds)
    assert (result.outcome, result.attempts) == ("retryable", 2)
    assert [(a.outcome, a.error_class) for a in attempts] == [("retryable", "timeout")] * 2
    assert attempts[0].detail == "no complete answer within 1 s"
    assert 900 <= attempts[0].latency_ms < 5000


def test_the_run_deadline_bounds_an_attempt_with_a_longer_timeout(
    http_drip: DripServer, attempts: list[Attempt]
) -> None:
    target = make_target("webhook", url=http_drip.url(), timeout=60.0, max_attempts=4)
    result, took = timed(send(target, attempts, budget=1.5, smtp=None))
    assert took < 10  # the 1.5 s budget, not the 60 s timeout
    assert result.outcome == "retryable" and len(attempts) == 1
    assert attempts[0].error_class == "timeout"  # recorded, though it never ended by itself


def test_a_dripping_smtp_server_cannot_stretch_an_attempt(
    smtp_drip: DripServer, attempts: list[Attempt]
) -> None:
    smtp = SmtpSpec(host="127.0.0.1", port=smtp_drip.port, starttls=False, timeout=1.0)
    target = make_target("email", recipients=("ops@example.com",), max_attempts=1)
    result, took = timed(send(target, attempts, budget=60, smtp=smtp))
    assert took < 10  # its 1 s timeout, not the drip's for ever
    assert (result.outcome, attempts[0].error_class) == ("retryable", "timeout")
    assert smtp_drip.connections == 1


def test_an_attempt_stuck_elsewhere_is_abandoned_at_its_limit() -> None:
    def stuck() -> SendResult:  # as in a name lookup that does not answer
        time.sleep(30)
        raise AssertionError("not abandoned")

    start = time.monotonic()
    result = bounded(stuck, 0.5)
    assert time.monotonic() - start < 10  # its 0.5 s limit, not the 30 s it is stuck for
    assert (result.outcome, result.error_class) == ("retryable", "timeout")


def test_a_run_against_a_dripping_receiver_ends_and_records_every_attempt(
    cli: Cli, tmp_path: Path, http_drip: DripServer
) -> None:
    (tmp_path / "t.db").touch()
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nstate_db: state.db\nalerts:\n"
        "  - name: drip\n    query: SELECT 'ALERT' AS status\n    schedule: '* * * * *'\n"
        f"    notify:\n      - channel: webhook\n        url: {http_drip.url()}\n"
        "        timeout: 1s\n        max_attempts: 2\n"
    )
    start = time.monotonic()
    result = cli("run", config, "--json", timeout=60)
    assert time.monotonic() - start < 20 and result.rc == 5, result.stderr
    rows = json.loads(cli("deliveries", config, "--json").stdout)
    assert [(r["outcome"], r["error_class"]) for r in rows] == [("retryable", "timeout")] * 2
