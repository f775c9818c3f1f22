"""Secret-free descriptions of notification targets, and scrubbing of free text.

Whatever reaches a log line, a delivery row or a `--dry-run` preview goes through
here: URL passwords and userinfo, query-string values, token-like path segments
(Slack's `/services/T…/B…/<token>`, Discord's `/webhooks/<id>/<token>`), header
values other than a few harmless ones, webhook secrets and the SMTP password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote_plus, urlsplit, urlunsplit

REDACTED = "…redacted"
SAFE_HEADERS = frozenset({"accept", "content-type", "user-agent"})
_TOKEN_SEGMENT = re.compile(r"(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_\-]{16,}")
_SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})


def _split(url: str) -> tuple[str, str, str, list[str], list[tuple[str, str]], str]:
    """Scheme, userinfo, host[:port], path segments, query pairs, fragment of a URL."""
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    query = parse_qsl(parts.query, keep_blank_values=True)
    return (
        parts.scheme,
        userinfo,
        hostport,
        parts.path.split("/"),
        query,
        parts.fragment,
    )


def _secret_segments(host: str, segments: list[str], slack: bool) -> set[int]:
    """Indexes of path segments that carry a token.

    Slack-style hooks (any host, for a Slack target) keep `/services/T…/B…` and
    hide the rest; Slack-compatible servers (`/hooks/<token>`) keep the first segment.
    """
    hidden = {i for i, s in enumerate(segments) if _TOKEN_SEGMENT.fullmatch(s)}
    if slack or host.split(":")[0].lower() in _SLACK_HOSTS:
        keep = 3 if segments[1:2] == ["services"] else 1
        hidden |= {i for i in range(keep + 1, len(segments)) if segments[i]}
    return hidden


def redact_url(url: str, *, slack: bool = False) -> str:
    """The URL with userinfo, query values, token-like path segments and fragment hidden."""
    try:
        scheme, userinfo, host, segments, query, fragment = _split(url)
    except ValueError:
        return REDACTED
    hidden = _secret_segments(host, segments, slack)
    path = "/".join(REDACTED if i in hidden else s for i, s in enumerate(segments))
    netloc = f"{REDACTED}@{host}" if userinfo else host
    qs = "&".join(f"{quote_plus(k)}={REDACTED}" for k, _ in query)
    return urlunsplit((scheme, netloc, path, qs, REDACTED if fragment else ""))


def url_secrets(url: str, *, slack: bool = False) -> list[str]:
    """The secret parts of a URL, for `scrub`."""
    try:
        _scheme, userinfo, host, segments, query, fragment = _split(url)
    except ValueError:
        return [url]
    found = [userinfo, *userinfo.split(":"), fragment, *(v for _, v in query)]
    found += [segments[i] for i in _secret_segments(host, segments, slack)]
    return found


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header values hidden, except for a few harmless ones."""
    return {k: v if k.lower() in SAFE_HEADERS else REDACTED for k, v in headers}


def usable_secrets(found: Iterable[str]) -> list[str]:
    """Secrets worth scrubbing, longest first (very short strings would blank out ordinary
    words; they are not credentials anyway)."""
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret replaced."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text
