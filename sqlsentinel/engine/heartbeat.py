"""An alert's `heartbeat_url`: tell an outside dead-man's switch (Healthchecks.io and
compatibles) that the alert ran, so a host that is down entirely is noticed from outside.

After each run the URL itself is requested (`<url>/fail` when the check failed), and
`<url>/start` before the query with `heartbeat_start`. One GET, by the channels' HTTP
attempt (`notify.http.http_send`: proxies, no redirects, a total deadline), of at most
HEARTBEAT_TIMEOUT_S and never past the run's end. A failure is logged (only the URL's
`scheme://host[:port]`: every path segment and the query may be the check's secret) and
changes nothing else about the run.
"""

from __future__ import annotations

import logging
import time
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from sqlsentinel.core.delivery import DeliveryOutcome
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.redaction import hide_path, path_secrets, redact

HEARTBEAT_TIMEOUT_S = 5.0  # one request, in total
MIN_TIME_S = 0.2  # no request starts with less time than this left in the run
Signal = Literal["start", "success", "fail"]

log = logging.getLogger("sqlsentinel.run")


def signal_url(url: str, signal: Signal) -> str:
    """The URL that says `signal`: `url` on success, else `/start` or `/fail` appended to its
    path (before any query string)."""
    if signal == "success":
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{signal}"))


def ping(alert: AlertSpec, signal: Signal, end: float) -> bool:
    """Request `alert`'s heartbeat URL for `signal` before `end` (monotonic); True when the
    service answered 2xx. Never raises."""
    assert alert.heartbeat_url is not None
    url = signal_url(alert.heartbeat_url, signal)
    timeout = min(HEARTBEAT_TIMEOUT_S, end - time.monotonic())
    if timeout < MIN_TIME_S:
        _failed(alert, signal, url, "no time left in the run")
        return False
    from sqlsentinel.notify.http import USER_AGENT, http_send

    result = http_send("GET", url, b"", {"User-Agent": USER_AGENT}, timeout)
    if result.outcome is not DeliveryOutcome.DELIVERED:
        _failed(alert, signal, url, result.detail)
        return False
    log.debug("heartbeat sent alert=%r signal=%s", alert.name, signal)
    return True


def _failed(alert: AlertSpec, signal: Signal, url: str, detail: str) -> None:
    log.warning(
        "heartbeat failed alert=%r signal=%s url=%s error=%s",
        alert.name,
        signal,
        hide_path(url),
        redact(detail, path_secrets(url)),
    )
