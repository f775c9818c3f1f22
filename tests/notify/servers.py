"""Test helpers: a real HTTP receiver and events with awkward values (for other suites too)."""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import Envelope, Session

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.event import AlertEvent, make_dedup_key, new_event_id

T0 = datetime(2026, 3, 1, 12, 30, 0, tzinfo=UTC)


def make_event(**changes: Any) -> AlertEvent:
    """A firing event with awkward values (Decimal, datetime, bytes, markup)."""
    fields: dict[str, Any] = {
        "event_id": new_event_id(),
        "dedup_key": make_dedup_key("orders_late", "ALERT", T0),
        "alert": "orders_late",
        "description": "Orders stuck in <pending> & unpaid",
        "state": "ALERT",
        "previous_state": "OK",
        "reason": NotifyReason.FIRING,
        "actual_value": Decimal("12.50"),
        "threshold": Decimal("10"),
        "context": {
            "note": "<script>alert(1)</script>",
            "oldest": datetime(2026, 3, 1, 11, 0, tzinfo=UTC),
            "raw": b"\x00\xffhi",
        },
        "error": None,
        "outcome": "alert",
        "occurred_at": T0,
        "state_since": T0,
        "tags": ("shop",),
        "triggered_by": "CRON",
        "run_id": "run-1",
    }
    fields.update(changes)
    return AlertEvent(**fields)


@dataclass
class Reply:
    """How the test HTTP server answers one request."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    echo: bool = False  # append the request's headers to the body, as some receivers do


@dataclass
class Received:
    """One request the server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HookServer:
    """A real ThreadingHTTPServer that records requests and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: list[Reply] = []
        self.default = Reply()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer._lock:
                    outer.requests.append(
                        Received(self.command, self.path, dict(self.headers.items()), body)
                    )
                    reply = outer.replies.pop(0) if outer.replies else outer.default
                time.sleep(reply.delay)
                body = reply.body + (str(self.headers).encode() if reply.echo else b"")
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DripServer:
    """A real TCP server that answers one byte at a time, forever (a hostile receiver).

    Each connection gets `greeting` at once, then, after the client's first line (when
    `after_line`), `reply` one byte every `interval` seconds followed by an endless
    `filler`: no single read ever waits long, so only a total deadline ends the attempt.
    """

    def __init__(
        self,
        reply: bytes,
        *,
        greeting: bytes = b"",
        after_line: bool = True,
        interval: float = 0.2,
        filler: bytes = b"a",
    ) -> None:
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self._args = (reply, greeting, after_line, interval, filler)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        reply, greeting, after_line, interval, filler = self._args
        with conn:
            try:
                conn.sendall(greeting)
                if after_line:
                    conn.makefile("rb").readline()
                for i in itertools.count():
                    byte = reply[i : i + 1] or filler
                    conn.sendall(byte)
                    if self._stop.wait(interval):
                        return
            except OSError:
                return  # the client gave up: that is the point

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


class Inbox:
    """aiosmtpd handler: records messages; recipients starting with `bad`/`busy` are refused."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, bool]] = []
        self.data_reply: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("bad"):
            return "550 5.1.1 no such user"
        if address.startswith("busy"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.messages.append((envelope, session.ssl is not None))
        return "250 Message accepted"

    def parsed(self, i: int = 0) -> EmailMessage:
        content = self.messages[i][0].content
        assert isinstance(content, bytes)
        msg = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    def parts(self, i: int = 0) -> tuple[str, str]:
        """The text and HTML parts, checking the multipart/alternative layout."""
        msg = self.parsed(i)
        assert msg.get_content_type() == "multipart/alternative"
        types = [part.get_content_type() for part in msg.iter_parts()]
        assert types == ["text/plain", "text/html"]
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert text is not None and html is not None
        return str(text.get_content()), str(html.get_content())
