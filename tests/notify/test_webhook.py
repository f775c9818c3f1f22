"""The webhook channel and the delivery loop against a real HTTP server."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime
from decimal import Decimal
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from support import make_target

from sqlsentinel.core.delivery import Attempt
from sqlsentinel.core.event import PAYLOAD_SCHEMA_VERSION
from sqlsentinel.core.spec import TargetSpec
from sqlsentinel.notify.deliver import deliver, preview
from sqlsentinel.notify.http import parse_retry_after

from .servers import HookServer, Reply, make_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhook.md"


def verifier() -> Any:
    """The receiver snippet from docs/webhook.md, executed as written."""
    text = DOCS.read_text()
    code = re.search(r"<!-- verify-snippet -->\n```python\n(.*?)```", text, re.S)
    assert code, "verification snippet missing from docs/webhook.md"
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    return namespace["verify_signature"]


def run(target: TargetSpec, attempts: list[Attempt], budget: float = 10.0, **kw: Any) -> Any:
    event = kw.pop("event", None) or make_event()
    result = deliver(
        event,
        target,
        smtp=None,
        deadline=time.monotonic() + budget,
        on_attempt=attempts.append,
        **kw,
    )
    return event, result


def no_sleep(_seconds: float) -> None:
    pass


def test_delivers_the_documented_payload(hook: HookServer, attempts: list[Attempt]) -> None:
    target = make_target("webhook", url=hook.url(), headers={"X-Team": "shop"})
    event, result = run(target, attempts)
    assert (result.outcome, result.attempts) == ("delivered", 1)
    [req] = hook.requests
    assert req.method == "POST" and req.path == "/hook"
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.headers["X-SQLSentinel-Event-Id"] == event.event_id
    assert req.headers["Idempotency-Key"] == event.event_id  # at least once: receivers dedupe
    assert req.headers["X-Team"] == "shop"
    assert "X-SQLSentinel-Signature" not in req.headers
    body = req.json()
    assert body["schema_version"] == PAYLOAD_SCHEMA_VERSION
    assert body["event_id"] == event.event_id
    assert body["dedup_key"] == "orders_late:ALERT:2026-03-01T12:30:00Z"
    assert (body["state"], body["previous_state"], body["reason"]) == ("ALERT", "OK", "firing")
    assert (body["actual_value"], body["threshold"]) == (12.5, 10)
    assert body["context"]["oldest"] == "2026-03-01T11:00:00+00:00"
    assert base64.b64decode(body["context"]["raw"]) == b"\x00\xffhi"
    assert body["context"]["note"] == "<script>alert(1)</script>"  # JSON is never HTML-escaped
    assert body["occurred_at"] == "2026-03-01T12:30:00Z"
    [a] = attempts
    assert (a.attempt, a.outcome, a.status_code, a.error_class) == (1, "delivered", 200, None)
    assert a.channel == "webhook" and a.target == f"webhook POST {hook.url()}"
    assert a.event_id == event.event_id and a.latency_ms > 0


def test_precise_decimals_and_naive_datetimes(hook: HookServer, attempts: list[Attempt]) -> None:
    context = {"big": Decimal("12345678901234567890.123456789"), "naive": datetime(2026, 1, 2)}
    run(make_target("webhook", url=hook.url()), attempts, event=make_event(context=context))
    body = hook.requests[0].json()
    assert body["context"] == {
        "big": "12345678901234567890.123456789",
        "naive": "2026-01-02T00:00:00",
    }


def test_signature_verifies_with_the_documented_snippet(
    hook: HookServer, attempts: list[Attempt]
) -> None:
    target = make_target("webhook", url=hook.url(), secret="s3cr3t-signing-key")
    run(target, attempts)
    [req] = hook.requests
    assert abs(int(req.headers["X-SQLSentinel-Timestamp"]) - time.time()) < 5
    assert req.headers["X-SQLSentinel-Signature"].startswith("sha256=")
    verify = verifier()
    assert verify("s3cr3t-signing-key", req.headers, req.body)
    assert not verify("wrong-key", req.headers, req.body)
    assert not verify("s3cr3t-signing-key", req.headers, req.body + b" ")


def test_method_is_configurable(hook: HookServer, attempts: list[Attempt]) -> None:
    run(make_target("webhook", url=hook.url(), method="PUT"), attempts)
    assert [r.method for r in hook.requests] == ["PUT"]


def test_500_is_retried_with_the_same_event_id(hook: HookServer, attempts: list[Attempt]) -> None:
    hook.replies = [Reply(500, b"database down"), Reply(503), Reply(200)]
    waits: list[float] = []
    event, result = run(
        make_target("webhook", url=hook.url()), attempts, sleep=waits.append, rng=lambda: 1
    )
    assert (result.outcome, result.attempts) == ("delivered", 3)
    assert len(hook.requests) == 3
    assert {r.json()["event_id"] for r in hook.requests} == {event.event_id}
    assert [(a.attempt, a.outcome, a.status_code) for a in attempts] == [
        (1, "retryable", 500),
        (2, "retryable", 503),
        (3, "delivered", 200),
    ]
    assert attempts[0].detail == "HTTP 500 Internal Server Error: database down"
    assert waits == [1.0, 2.0]  # exponential backoff (jitter pinned to its maximum)


def test_gives_up_after_max_attempts_and_numbering_continues(
    hook: HookServer, attempts: list[Attempt]
) -> None:
    hook.default = Reply(502)
    target = make_target("webhook", url=hook.url(), max_attempts=3)
    _, result = run(target, attempts, sleep=no_sleep, first_attempt=5)
    assert (result.outcome, result.attempts) == ("retryable", 3)
    assert "gave up after 3 attempts" in result.detail
    assert len(hook.requests) == 3
    assert [a.attempt for a in attempts] == [5, 6, 7]


def test_429_retry_after_is_honoured(hook: HookServer, attempts: list[Attempt]) -> None:
    hook.replies = [Reply(429, headers={"Retry-After": "1"})]
    start = time.monotonic()
    _, result = run(make_target("webhook", url=hook.url()), attempts, rng=lambda: 0)
    elapsed = time.monotonic() - start
    assert (result.outcome, result.attempts) == ("delivered", 2)
    assert 1.0 <= elapsed < 10.0  # waited the 1 s asked for (a loaded machine adds to it)
    assert [(a.outcome, a.status_code) for a in attempts] == [
        ("retryable", 429),
        ("delivered", 200),
    ]


def test_retry_after_past_the_deadline_stops_this_run(
    hook: HookServer, attempts: list[Attempt]
) -> None:
    hook.default = Reply(503, headers={"Retry-After": "600"})
    start = time.monotonic()
    _, result = run(make_target("webhook", url=hook.url()), attempts, budget=30)
    assert time.monotonic() - start < 10  # stopped at once, not at the 30 s deadline
    assert (result.outcome, result.attempts) == ("retryable", 1)
    assert "next try in 600.0 s" in result.detail


def test_4xx_is_permanent(hook: HookServer, attempts: list[Attempt]) -> None:
    hook.default = Reply(404, b"no such hook")
    _, result = run(make_target("webhook", url=hook.url()), attempts)
    assert (result.outcome, result.attempts) == ("permanent", 1)
    assert len(hook.requests) == 1
    assert attempts[0].status_code == 404 and "no such hook" in attempts[0].detail


def test_redirect_is_not_followed(hook: HookServer, attempts: list[Attempt]) -> None:
    other = HookServer()
    try:
        location = other.url("/moved?token=leaky")
        hook.default = Reply(302, headers={"Location": location})
        _, result = run(make_target("webhook", url=hook.url()), attempts)
        assert (result.outcome, result.attempts) == ("permanent", 1)
        assert other.requests == []
        assert attempts[0].error_class == "redirect"
        assert "redirect to http://127.0.0.1" in result.detail and "leaky" not in result.detail
    finally:
        other.close()


def test_slow_server_times_out(hook: HookServer, attempts: list[Attempt]) -> None:
    hook.default = Reply(200, delay=15.0)
    target = make_target("webhook", url=hook.url(), timeout=0.3, max_attempts=2)
    start = time.monotonic()
    _, result = run(target, attempts, sleep=no_sleep, budget=60)
    assert time.monotonic() - start < 10  # 2 x 0.3 s, not the server's 15 s
    assert (result.outcome, result.attempts) == ("retryable", 2)
    assert {a.error_class for a in attempts} == {"timeout"}
    assert attempts[0].detail == "no complete answer within 0.3 s"


def test_silent_server_times_out(silent_url: str, attempts: list[Attempt]) -> None:
    _, result = run(make_target("webhook", url=silent_url, timeout=0.3, max_attempts=1), attempts)
    assert result.outcome == "retryable" and attempts[0].error_class == "timeout"


def test_refused_connection_is_retryable(closed_url: str, attempts: list[Attempt]) -> None:
    _, result = run(
        make_target("webhook", url=closed_url, max_attempts=2), attempts, sleep=no_sleep
    )
    assert (result.outcome, result.attempts) == ("retryable", 2)
    assert [a.error_class for a in attempts] == ["connection_refused"] * 2


def test_deadline_caps_each_attempt_and_the_whole_delivery(
    hook: HookServer, attempts: list[Attempt]
) -> None:
    hook.default = Reply(200, delay=15.0)
    start = time.monotonic()
    _, result = run(make_target("webhook", url=hook.url(), max_attempts=10), attempts, budget=0.8)
    elapsed = time.monotonic() - start
    assert elapsed < 8  # the 0.8 s budget, not one 15 s answer (a loaded machine adds to it)
    assert result.outcome == "retryable"
    assert attempts and all(a.error_class == "timeout" for a in attempts)


def test_backoff_never_sleeps_past_the_deadline(hook: HookServer, attempts: list[Attempt]) -> None:
    hook.default = Reply(500)
    slept: list[tuple[float, float]] = []

    def sleep(seconds: float) -> None:
        slept.append((time.monotonic(), seconds))
        time.sleep(seconds)

    start = time.monotonic()
    target = make_target("webhook", url=hook.url(), max_attempts=20)
    _, result = run(target, attempts, budget=1.5, sleep=sleep)
    assert slept and all(at + seconds <= start + 1.5 + 0.05 for at, seconds in slept), slept
    assert time.monotonic() - start < 10
    assert result.outcome == "retryable" and len(hook.requests) == len(attempts) >= 1


def test_no_attempt_once_the_deadline_has_passed(hook: HookServer, attempts: list[Attempt]) -> None:
    _, result = run(make_target("webhook", url=hook.url()), attempts, budget=0)
    assert (result.outcome, result.attempts) == ("retryable", 0)
    assert hook.requests == [] and attempts == []


def test_invalid_url_is_permanent(attempts: list[Attempt]) -> None:
    _, result = run(make_target("webhook", url="ftp://example.com/hook"), attempts)
    assert (result.outcome, attempts[0].error_class) == ("permanent", "invalid_target")


def test_secrets_never_reach_attempts_logs_or_previews(
    hook: HookServer, attempts: list[Attempt], caplog: pytest.LogCaptureFixture
) -> None:
    secrets = ["hunter2-password", "tok-9f8e7d6c5b4a", "Bearer abcdef123456", "sign-me-please"]
    url = hook.url("/hook?token=tok-9f8e7d6c5b4a").replace("//", "//alice:hunter2-password@")
    # The receiver echoes the token and the Authorization header in its error body.
    hook.default = Reply(500, b"bad token tok-9f8e7d6c5b4a for Bearer abcdef123456")
    target = make_target(
        "webhook",
        url=url,
        headers={"Authorization": "Bearer abcdef123456"},
        secret="sign-me-please",
        max_attempts=2,
    )
    caplog.set_level("DEBUG")
    _, result = run(target, attempts, sleep=no_sleep)
    assert len(hook.requests) == 2
    assert hook.requests[0].headers["Authorization"] == "Bearer abcdef123456"
    shown = json.dumps(preview(make_event(), target, smtp=None))
    recorded = [str(a) for a in attempts] + [result.detail, caplog.text, shown]
    for text in recorded:
        for secret in secrets:
            assert secret not in text
    assert attempts[0].target.startswith("webhook POST http://…redacted@127.0.0.1:")
    assert "token=…redacted" in attempts[0].target


def test_a_receiver_echoing_basic_credentials_leaks_no_form_of_them(
    hook: HookServer, attempts: list[Attempt], caplog: pytest.LogCaptureFixture
) -> None:
    """Userinfo becomes `Authorization: Basic …`; an echo of it is redacted in every form."""
    url = hook.url("/hook").replace("//", "//alice:p%40ss-w0rd@")
    hook.default = Reply(401, b"denied; you sent: ", echo=True)
    headers = {"X-Api-Key": "Basic " + base64.b64encode(b"bob:key-pa55").decode()}
    target = make_target("webhook", url=url, headers=headers, max_attempts=1)
    caplog.set_level("INFO")
    _, result = run(target, attempts)
    sent = hook.requests[0].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"alice:p@ss-w0rd").decode()
    forms = [sent, sent.split()[1], "p@ss-w0rd", "p%40ss-w0rd", "alice:p@ss", "key-pa55",
             headers["X-Api-Key"].split()[1]]  # fmt: skip
    for text in (attempts[0].detail, result.detail, caplog.text):
        assert "denied" in text and "Authorization: …redacted" in text
        for form in forms:
            assert form not in text


def test_parse_retry_after() -> None:
    now = 1_770_000_000.0
    http_date = formatdate(now + 90, usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(http_date, now=now) == 90.0
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_http_proxy_from_the_environment_is_used(
    hook: HookServer, attempts: list[Attempt], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver stands in for a forward proxy: it gets the absolute URL and the
    proxy credentials; the target's own host is never resolved."""
    proxy = hook.url("").replace("http://", "http://pu:pp@")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    target = make_target("webhook", url="http://hooks.invalid/in")
    _, result = run(target, attempts)
    assert result.outcome == "delivered"
    [req] = hook.requests
    assert req.path == "http://hooks.invalid/in"
    assert req.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"pu:pp").decode()


def test_no_proxy_bypasses_the_proxy(
    hook: HookServer, attempts: list[Attempt], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    _, result = run(make_target("webhook", url=hook.url()), attempts)
    assert result.outcome == "delivered"
    assert [r.path for r in hook.requests] == ["/hook"]
