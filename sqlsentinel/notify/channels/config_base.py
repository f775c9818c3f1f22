"""What every channel's config model shares (pydantic; imported only while validating)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import field_validator

from sqlsentinel.model_fields import Count, OptionalDuration, StrictModel, has_control, positive


def check_template(v: str | None) -> str | None:
    """Reject a message template that does not compile."""
    if v is None:
        return v
    from sqlsentinel.notify.templates import check_template as check

    error = check(v)
    if error:
        raise ValueError(error)
    return v


def check_http_url(v: str) -> str:
    """Accept only a complete http(s) URL: a host, a valid port, no spaces or control characters."""
    if not v.startswith(("https://", "http://")):
        raise ValueError(f"must be an http(s) URL, not {v!r}")
    if has_control(v) or any(c.isspace() for c in v):
        raise ValueError(f"must not contain spaces or control characters: {v!r} (write %20)")
    try:
        parts = urlsplit(v)
        port = parts.port
    except ValueError:
        raise ValueError(f"the port of {v!r} must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{v!r} names no host; write it like https://example.com/hook")
    if port == 0:
        raise ValueError(f"the port of {v!r} must be a number from 1 to 65535")
    return v


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP field name (RFC 9110)


def check_headers(v: dict[str, str] | None) -> dict[str, str] | None:
    """HTTP header names are single words; values are one line of Latin-1 text."""
    for name, value in (v or {}).items():
        if not _TOKEN.fullmatch(name):
            raise ValueError(
                f"header name {name!r} must be one word of letters, digits and -_.!#$%&'*+^`|~ "
                "(no spaces, colons or line breaks)"
            )
        if has_control(value.replace("\t", "")):
            raise ValueError(
                f"header {name}: the value must be one line without control characters"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"header {name}: HTTP sends only Latin-1 text in a value") from None
    return v


class TargetModel(StrictModel):
    """The keys every `notify:` entry takes besides its channel's own."""

    timeout: OptionalDuration = None
    max_attempts: Count | None = None

    _t = field_validator("timeout")(positive)
