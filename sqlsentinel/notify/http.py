"""One HTTP attempt, shared by every HTTP channel: its failure classes, status tables, retry-after.

http.client is used directly, so header names go out exactly as written;
`HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` are honoured; userinfo in the URL becomes basic
authentication. Redirects are not followed: a 3xx answer to a POST is a permanent
failure that names the new location (redacted), because re-sending a body to a moved
URL silently is how alerts end up somewhere nobody reads.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import socket
import ssl
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlsentinel import __version__
from sqlsentinel.core.delivery import DeliveryOutcome
from sqlsentinel.notify.channels import SendResult
from sqlsentinel.notify.deadline import AttemptDeadline, timed_out
from sqlsentinel.redaction import basic_credentials, redact_url

USER_AGENT = f"sqlsentinel/{__version__}"
EVENT_ID_HEADER = "X-SQLSentinel-Event-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"  # the same event id, under the name receivers know
_SNIPPET = 200  # characters of an error response body kept in the detail


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _snippet(raw: bytes) -> str:
    text = " ".join(raw[: _SNIPPET * 4].decode("utf-8", "replace").split())
    return text[:_SNIPPET]


Row = tuple[range, DeliveryOutcome, str | None]
"""One row of a status table: the codes it covers, how an attempt so answered ends, and
its error class (None for a delivery)."""

_D, _R, _P = DeliveryOutcome.DELIVERED, DeliveryOutcome.RETRYABLE, DeliveryOutcome.PERMANENT


def codes(*numbers: int) -> range:
    """A range of one status code (or `codes(lo, hi)`: lo to hi inclusive)."""
    return range(numbers[0], numbers[-1] + 1)


DEFAULT_TABLE: tuple[Row, ...] = (
    (codes(200, 299), _D, None),
    (codes(300, 399), _P, "redirect"),
    (codes(408), _R, "http_status"),
    (codes(429), _R, "rate_limited"),
    (codes(500, 599), _R, "http_status"),
    (codes(400, 499), _P, "http_status"),
)
"""How a plain webhook's answer is classified; a channel puts its provider's documented
codes first (the first row that covers a code decides)."""


def classify(code: int, table: tuple[Row, ...]) -> tuple[DeliveryOutcome, str | None]:
    """The outcome and error class of status `code` by `table` (then DEFAULT_TABLE)."""
    for covered, outcome, error_class in (*table, *DEFAULT_TABLE):
        if code in covered:
            return outcome, error_class
    return _P, "http_status"  # 1xx or beyond 599: not an answer HTTP defines


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.lstrip().startswith(b"{"):
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def body_retry_after(body: dict[str, Any]) -> float | None:
    """Seconds to wait as a JSON answer says it: `retry_after` (seconds, Discord),
    `parameters.retry_after` (Telegram), `retry_after_ms` (Matrix)."""
    params = body.get("parameters")
    found: list[tuple[Any, float]] = [
        (body.get("retry_after"), 1.0),
        (params.get("retry_after") if isinstance(params, dict) else None, 1.0),
        (body.get("retry_after_ms"), 0.001),
    ]
    for value, unit in found:
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value) * unit
    return None


def _reference(body: dict[str, Any], path: tuple[str, ...]) -> str | None:
    value: Any = body
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return None if value is None or isinstance(value, dict | list) else str(value)


def network_failure(exc: OSError | http.client.HTTPException, timeout: float) -> SendResult:
    """Classify an exception raised before an HTTP status arrived."""
    if isinstance(exc, TimeoutError):
        return timed_out(timeout)
    if isinstance(exc, ConnectionRefusedError):
        return SendResult(
            DeliveryOutcome.RETRYABLE, None, "connection_refused", "connection refused"
        )
    if isinstance(exc, socket.gaierror):
        transient = exc.errno == socket.EAI_AGAIN
        outcome = DeliveryOutcome.RETRYABLE if transient else DeliveryOutcome.PERMANENT
        return SendResult(outcome, None, "dns", f"name lookup failed: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = f"TLS certificate not trusted: {exc.verify_message}"
        return SendResult(DeliveryOutcome.PERMANENT, None, "tls_verify", detail)
    if isinstance(exc, ssl.SSLError):
        return SendResult(DeliveryOutcome.RETRYABLE, None, "tls", f"TLS error: {exc.reason}")
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return SendResult(
            DeliveryOutcome.RETRYABLE, None, "connection_error", f"{type(exc).__name__}: {exc}"
        )
    name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return SendResult(
        DeliveryOutcome.RETRYABLE, None, "network_error", f"{name}: {exc.strerror or exc}"
    )


def _status_result(
    code: int, reason: str, headers: Any, raw: bytes, table: tuple[Row, ...],
    reference: tuple[str, ...],
) -> SendResult:  # fmt: skip
    """Classify an HTTP answer by `table`; the retry-after and reference it carries."""
    outcome, error_class = classify(code, table)
    body = _json_object(raw)
    ref = _reference(body, reference) if reference else None
    excerpt = _snippet(raw)
    text = f"HTTP {code} {reason}".rstrip()
    if outcome is _D:
        return SendResult(outcome, code, None, f"HTTP {code}", reference=ref, excerpt=excerpt)
    if error_class == "redirect":
        where = headers.get("Location")
        to = f" to {redact_url(where)}" if where else ""
        detail = f"{text}: redirect{to} not followed; point the target at the final URL"
        return SendResult(outcome, code, error_class, detail, excerpt=excerpt)
    detail = f"{text}: {excerpt}" if excerpt else text
    wait = parse_retry_after(headers.get("Retry-After"))
    if wait is None:
        wait = body_retry_after(body)
    return SendResult(outcome, code, error_class, detail, wait, ref, excerpt)


def _basic(header: str, user: str | None, password: str | None) -> dict[str, str]:
    """Basic authentication from URL userinfo (redaction knows every form it takes)."""
    return {header: basic_credentials(user, password or "")} if user else {}


def _proxy_for(scheme: str, host: str) -> str | None:
    """The environment's proxy for this URL, as urllib reads it; urllib.request is only
    imported when some `*_proxy` variable is set (a tick without one skips its cost)."""
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None
    import urllib.request

    proxy = urllib.request.getproxies().get(scheme)
    return proxy if proxy and not urllib.request.proxy_bypass(host) else None


def _connect(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """Connection (direct or through the environment's proxy), request target, extra headers."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the URL must start with http:// or https:// and name a host")
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    extra = _basic("Authorization", parts.username, parts.password)
    context = ssl.create_default_context() if https else None
    proxy = _proxy_for(parts.scheme, parts.hostname)
    if proxy:
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        auth = _basic("Proxy-Authorization", p.username, p.password)
        if https:
            conn = http.client.HTTPSConnection(
                p.hostname or "", p.port or 80, timeout=timeout, context=context
            )
            conn.set_tunnel(parts.hostname, port, headers=auth)
            return conn, target, extra
        plain = http.client.HTTPConnection(p.hostname or "", p.port or 80, timeout=timeout)
        return plain, urlunsplit(parts._replace(fragment="")), {**extra, **auth}
    if https:
        secure = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=context)
        return secure, target, extra
    return http.client.HTTPConnection(parts.hostname, port, timeout=timeout), target, extra


def http_send(
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    *,
    table: tuple[Row, ...] = (),
    reference: tuple[str, ...] = (),
) -> SendResult:
    """One HTTP request with headers exactly as given, ended after `timeout` seconds in
    total; never raises, never follows a redirect. The answer is classified by `table`
    (the channel's rows before DEFAULT_TABLE); `reference` is the path in its JSON body
    of the provider's id of what it received."""
    try:
        conn, target, extra = _connect(url, timeout)
    except ValueError as exc:
        return SendResult(DeliveryOutcome.PERMANENT, None, "invalid_target", str(exc))
    deadline = AttemptDeadline(timeout)
    with deadline.watch(lambda: conn.sock):
        try:
            conn.request(method, target, body=body, headers={**extra, **headers})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return timed_out(timeout) if deadline.expired else network_failure(exc, timeout)
        except ValueError as exc:  # e.g. a header value http.client refuses to send
            conn.close()
            return SendResult(DeliveryOutcome.PERMANENT, None, "invalid_request", str(exc))
        try:  # the status decides; a body that does not arrive only loses the detail
            raw = response.read(_SNIPPET * 4)
        except (OSError, http.client.HTTPException):
            raw = b""
        finally:
            conn.close()
    return _status_result(response.status, response.reason, response.headers, raw, table, reference)
