"""Reading an HTTP/1.x request head within a budget (pure: bytes in, a request or an error out).

A request line longer than MAX_LINE bytes is 414; a head longer than MAX_HEAD bytes, or with
more than MAX_HEADERS lines, is 431; anything else that is not HTTP/1.0 or 1.1 is 400. A
body is only ever sized by Content-Length (no chunked uploads: 411).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlsplit

MAX_LINE = 4096
MAX_HEAD = 16 * 1024
MAX_HEADERS = 64
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class HttpError(Exception):
    """The request cannot be served: `status` and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Request:
    """A request as the handlers see it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names in lower case
    length: int = 0  # Content-Length
    body: bytes = b""

    def with_body(self, body: bytes) -> Request:
        """This request with its body read."""
        return replace(self, body=body)

    def params(self) -> dict[str, str]:
        """The query parameters (the last of a repeated one)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


def parse_head(buf: bytes | bytearray) -> tuple[Request, bytes] | None:
    """The request whose head `buf` starts with, and the bytes after the head; None while
    the head is incomplete; HttpError when it breaks the budget or the grammar."""
    line_end = buf.find(b"\n")
    if (line_end < 0 and len(buf) > MAX_LINE) or line_end > MAX_LINE:
        raise HttpError(414, f"the request line is longer than {MAX_LINE} bytes")
    end, skip = buf.find(b"\r\n\r\n"), 4
    if end < 0:
        end, skip = buf.find(b"\n\n"), 2
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise HttpError(431, f"the request head is larger than {MAX_HEAD} bytes")
        return None
    if end > MAX_HEAD:
        raise HttpError(431, f"the request head is larger than {MAX_HEAD} bytes")
    lines = bytes(buf[:end]).decode("latin-1").replace("\r\n", "\n").split("\n")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} header lines")
    method, target = _request_line(lines[0])
    headers = _headers(lines[1:])
    if "transfer-encoding" in headers:
        raise HttpError(411, "send a Content-Length, not Transfer-Encoding")
    length = headers.get("content-length", "0").strip()
    if not length.isdigit():
        raise HttpError(400, "Content-Length is not a number")
    parts = urlsplit(target)
    request = Request(method, parts.path or "/", parts.query, headers, int(length))
    return request, bytes(buf[end + skip :])


def _request_line(line: str) -> tuple[str, str]:
    words = line.split(" ")
    if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(400, "not an HTTP/1.x request line")
    method, target = words[0], words[1]
    if method not in _METHODS:
        raise HttpError(400 if not method.isalpha() else 405, f"method {method[:20]!r}")
    if not (target.startswith("/") or target.startswith(("http://", "https://"))):
        raise HttpError(400, "the request target is not a path")
    return method, target


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(400, "a malformed header line")
        headers[name.lower()] = value.strip()
    return headers
