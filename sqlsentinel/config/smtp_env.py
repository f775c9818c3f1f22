"""SMTP settings from the environment, with the original SQL Sentinel's variable names.

`SMTP_HOST` (required, else None), `SMTP_PORT` (587), `SMTP_USERNAME` (alias
`SMTP_USER`), `SMTP_PASSWORD`, `SMTP_FROM_ADDRESS` (alias `SMTP_FROM`),
`SMTP_USE_TLS` (true = STARTTLS, the default; false = plain), `SMTP_USE_SSL`
(implicit TLS; defaults to true when the port is 465) and `SMTP_TIMEOUT` (seconds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from sqlsentinel.core.spec import AlertSpec, Settings, SmtpSpec, given
from sqlsentinel.errors import Problem

SMTP_ENV_NAMES = (
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_FROM_ADDRESS",
    "SMTP_FROM",
    "SMTP_USE_TLS",
    "SMTP_USE_SSL",
    "SMTP_TIMEOUT",
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SmtpEnvError(ValueError):
    """An SMTP_* variable has a value that cannot be used; the message names it."""


def _get(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def _bool(environ: Mapping[str, str], name: str) -> bool | None:
    value = _get(environ, name)
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SmtpEnvError(f"{name}={value!r}: expected true or false")


_NUMBER = {int: re.compile(r"[0-9]+"), float: re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")}


def _number(environ: Mapping[str, str], name: str, kind: type[int] | type[float]) -> float | None:
    """A positive number written in ASCII digits (`nan`, `inf`, `1e3` and U+0665 are not)."""
    value = _get(environ, name)
    if value is None:
        return None
    if (
        not _NUMBER[kind].fullmatch(value)
        or not math.isfinite(number := kind(value))
        or number <= 0
    ):
        raise SmtpEnvError(f"{name}={value!r}: expected a positive number")
    return number


def smtp_from_env(environ: Mapping[str, str]) -> SmtpSpec | None:
    """SmtpSpec from SMTP_* variables, or None when SMTP_HOST is not set."""
    from sqlsentinel.notify.channels.email import address_problem

    host = _get(environ, "SMTP_HOST")
    if host is None:
        return None
    if any(c.isspace() or not c.isprintable() for c in host):
        raise SmtpEnvError(f"SMTP_HOST={host!r}: expected a host name")
    sender = _get(environ, "SMTP_FROM_ADDRESS", "SMTP_FROM")
    if sender is not None and address_problem(sender):
        raise SmtpEnvError(f"SMTP_FROM_ADDRESS={sender!r}: expected an email address")
    port = _number(environ, "SMTP_PORT", int)
    if port is not None and port > 65535:
        raise SmtpEnvError(f"SMTP_PORT={int(port)}: expected a port number (1-65535)")
    use_ssl = _bool(environ, "SMTP_USE_SSL")
    implicit = port == 465 if use_ssl is None else use_ssl
    starttls = _bool(environ, "SMTP_USE_TLS")
    values = {
        "host": host,
        "port": None if port is None else int(port),
        "username": _get(environ, "SMTP_USERNAME", "SMTP_USER"),
        "password": environ.get("SMTP_PASSWORD") or None,
        "from_address": sender,
        "starttls": False if implicit else (starttls is not False),
        "ssl": implicit,
        "timeout": _number(environ, "SMTP_TIMEOUT", float),
    }
    return SmtpSpec(**given(values))


def unmet_smtp(alert: AlertSpec, settings: Settings) -> Problem | None:
    """Why `alert` cannot run here: it sends email, and no SMTP server is configured."""
    if settings.smtp is not None or all(t.channel != "email" for t in alert.notify):
        return None
    message = (
        f"alert {alert.name!r} sends email, but no SMTP server is configured: set SMTP_HOST "
        "in the environment of its runs (for systemd: install-units --env-file) or add an "
        "smtp: block"
    )
    return Problem(settings.source, alert.line, "", message)
