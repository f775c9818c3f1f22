"""Redaction: the one place that decides what is secret and hides it in whatever is shown.

A value is secret by what it *is*, wherever it turns up:
- the password of any URL (`scheme://user:PASSWORD@host`);
- the value of a secret-bearing parameter (`is_secret_param`), in a URL's query string
  or in `key=value` text such as a libpq connection string;
- an `Authorization` credential: `Bearer <token>`, and `Basic <base64>` when it decodes
  to `user:password`;
- every known secret a caller passes in (webhook headers and signing secret, URL tokens,
  the SMTP password), in every form it is sent in (`secret_forms`).

`redact(text, secrets)` applies all of that; every delivery row, log line, `--dry-run`
preview, CLI table, JSON output and error message goes through it. `redact_url` describes
a notification URL for display, hiding everything that may carry a token; `hide_path`
keeps only `scheme://host[:port]` of a URL whose whole path is its secret (a heartbeat's).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit, urlunsplit

REDACTED = "…redacted"
SAFE_HEADERS = frozenset({"accept", "content-type", "user-agent"})
"""Request headers whose values are never secret; every other header value is."""

SECRET_PARAMS = frozenset(
    {"pass", "pwd", "key", "sig", "signature", "auth", "credentials", "apikey", "access_key"}
)
SECRET_PARAM_ENDINGS = ("password", "passwd", "secret", "token", "_key", "apikey")
"""A parameter is secret when its name (any case, `-` read as `_`) is one of SECRET_PARAMS
or ends with one of these: `password`, `sslpassword`, `client_secret`, `access_token`,
`api_key`, `x-api-key`, … File *paths* such as `sslkey`, `sslcert`, `sslrootcert` are not."""

_TOKEN_SEGMENT = re.compile(r"(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_\-]{16,}")
_SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][\w+.-]*://[^\s:/@]*):(?P<pw>[^\s@]*)@")
_PARAM = re.compile(r"(?P<key>\b[A-Za-z][\w.-]*)=(?P<value>[^&;\s#'\"]+)")
_BEARER = re.compile(r"\b(?P<scheme>Bearer)\s+(?P<cred>[\w.~+/=-]{4,})")
_BASIC = re.compile(r"\b(?P<scheme>Basic)\s+(?P<cred>[A-Za-z0-9+/]{4,}={0,2})")
_SHORTEST = 4  # shorter known secrets would blank out ordinary words; they are no credentials


def is_secret_param(name: str) -> bool:
    """True when a query or connection parameter called `name` carries a secret."""
    key = name.strip().lower().replace("-", "_")
    return key in SECRET_PARAMS or key.endswith(SECRET_PARAM_ENDINGS)


def url_has_secret(url: str) -> bool:
    """True when `url` carries a password (in its userinfo or a secret-bearing parameter)."""
    return redact(url) != url


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret, URL password, secret parameter and credential hidden."""
    for secret in sorted({s for s in secrets if len(s) >= _SHORTEST}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{_hide(m['pw'])}@", text)
    text = _PARAM.sub(
        lambda m: f"{m['key']}={_hide(m['value'])}" if is_secret_param(m["key"]) else m[0], text
    )
    text = _BEARER.sub(lambda m: f"{m['scheme']} {REDACTED}", text)
    return _BASIC.sub(lambda m: f"{m['scheme']} {REDACTED}" if _is_basic(m["cred"]) else m[0], text)


def _hide(value: str) -> str:
    """REDACTED, unless `value` holds no secret: already redacted, a `${VAR}` reference or
    the word `password` of an example."""
    return value if value.startswith((REDACTED, "${")) or value == "password" else REDACTED


def _is_basic(credential: str) -> bool:
    try:
        return ":" in base64.b64decode(credential, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False


def basic_credentials(user: str, password: str) -> str:
    """The `Authorization` value for URL userinfo (percent-decoded), as it is sent."""
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def secret_forms(user: str, password: str) -> list[str]:
    """Every form a user/password pair is sent in: raw, decoded, `user:pass`, base64, Basic."""
    header = basic_credentials(user, password)
    encoded = header.removeprefix("Basic ")
    plain = f"{unquote(user)}:{unquote(password)}"
    return [password, unquote(password), f"{user}:{password}", plain, encoded, header]


def smtp_secrets(username: str | None, password: str | None) -> list[str]:
    """The SMTP password as AUTH sends it: raw, base64 (LOGIN) and `\\0user\\0pass` (PLAIN)."""
    if not password:
        return []
    plain = f"\0{username or ''}\0{password}".encode()
    return [password, _b64(password.encode()), _b64(plain)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def header_secrets(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Every configured header value that may be secret, with the credential inside it."""
    found: list[str] = []
    for name, value in headers:
        if name.lower() in SAFE_HEADERS:
            continue
        found.append(value)
        scheme, _, credential = value.strip().partition(" ")
        if credential:
            found.append(credential.strip())
        if scheme.lower() == "basic" and _is_basic(credential.strip()):
            user, _, password = base64.b64decode(credential.strip()).decode().partition(":")
            found += secret_forms(user, password)
    return found


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header values hidden, except for a few harmless ones."""
    return {k: v if k.lower() in SAFE_HEADERS else REDACTED for k, v in headers}


def _split(url: str) -> tuple[str, str, str, list[str], list[tuple[str, str]], str]:
    """Scheme, userinfo, host[:port], path segments, query pairs, fragment of a URL."""
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    query = parse_qsl(parts.query, keep_blank_values=True)
    return parts.scheme, userinfo, hostport, parts.path.split("/"), query, parts.fragment


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
    """A notification URL with userinfo, query values, token-like path segments and
    fragment hidden (receivers put tokens anywhere)."""
    try:
        scheme, userinfo, host, segments, query, fragment = _split(url)
    except ValueError:
        return REDACTED
    hidden = _secret_segments(host, segments, slack)
    path = "/".join(REDACTED if i in hidden else s for i, s in enumerate(segments))
    netloc = f"{REDACTED}@{host}" if userinfo else host
    qs = "&".join(f"{quote_plus(k)}={REDACTED}" for k, _ in query)
    return urlunsplit((scheme, netloc, path, qs, REDACTED if fragment else ""))


def hide_path(url: str) -> str:
    """`scheme://host[:port]/…redacted`: a URL whose path and query are all secret (a
    dead-man's switch URL: `/<uuid>`, `/<ping-key>/<slug>`), without its userinfo."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return REDACTED
    secret = parts.path.strip("/") or parts.query or parts.fragment
    return urlunsplit((parts.scheme, host, f"/{REDACTED}" if secret else parts.path, "", ""))


def path_secrets(url: str) -> list[str]:
    """Every part of `url` that `hide_path` hides, as it may appear in an error message:
    the URL, its path and query, each path segment and each query value."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    segments = [s for s in parts.path.split("/") if s]
    values = [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    userinfo = parts.netloc.rpartition("@")[0]
    return [url, parts.path, parts.query, userinfo, *segments, *values, parts.fragment]


def url_secrets(url: str, *, slack: bool = False) -> list[str]:
    """The secret parts of a notification URL in every form they are sent in."""
    try:
        _scheme, userinfo, host, segments, query, fragment = _split(url)
    except ValueError:
        return [url]
    found = [userinfo, fragment, *(v for _, v in query)]
    if userinfo:
        user, _, password = userinfo.partition(":")
        found += [user, *secret_forms(user, password)]
    return found + [segments[i] for i in _secret_segments(host, segments, slack)]
