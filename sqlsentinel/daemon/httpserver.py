"""The daemon's HTTP server: small, bounded, and never a way to starve the scheduler.

One thread runs a selector loop over the listening socket and every connection. A client
must send its request head within HEAD_TIMEOUT_S and all of its request within
REQUEST_TIMEOUT_S, and take the answer within WRITE_TIMEOUT_S. A request line over
MAX_LINE bytes is answered 414, a head over MAX_HEAD bytes or MAX_HEADERS lines 431, a body
over its route's limit 413. At most `max_connections()` are open (the process's file limit
less FD_RESERVE, kept for checks and the state database); a new one beyond that closes the
connection that has waited longest for its request, so idle clients cannot lock others out.
Handlers run on WORKERS threads (a `quick` one on the loop itself), so a slow handler never
holds the loop; answers are written by the loop, so a client that does not read never holds
a worker. A client that leaves is closed quietly; every answer closes its connection.

Routes are a table of path -> `Route(handler, methods)`; HEAD is answered wherever GET is.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import resource
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus

from sqlsentinel.daemon.http_parse import HttpError, Request, parse_head

log = logging.getLogger("sqlsentinel.daemon")
_quiet = contextlib.suppress(OSError, KeyError, ValueError)  # a socket that went away
HEAD_TIMEOUT_S = 5.0  # accept -> end of the request head
REQUEST_TIMEOUT_S = 10.0  # accept -> end of the body
WRITE_TIMEOUT_S = 10.0  # answer ready -> fully written
MAX_CONNECTIONS = 64
FD_RESERVE = 32  # file descriptors never used for connections
WORKERS = 4
MAX_PENDING = 4 * WORKERS  # requests waiting for a worker; beyond, 503 at once
BACKLOG = 128
ACCEPT_BATCH = 16  # connections taken per turn of the loop, before reading the others


@dataclass(frozen=True)
class Response:
    """An answer: status, body and its type, extra headers."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        """A plain-text answer."""
        return cls(status, text.encode("utf-8"))

    def encode(self, head_only: bool) -> bytes:
        """The bytes on the wire (`head_only`: for HEAD, the same head without the body)."""
        reason = HTTPStatus(self.status).phrase
        lines = [f"HTTP/1.1 {self.status} {reason}", f"Content-Type: {self.content_type}",
                 f"Content-Length: {len(self.body)}", "Connection: close",
                 "Cache-Control: no-store", *(f"{k}: {v}" for k, v in self.headers)]  # fmt: skip
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """What a path answers: its handler, the methods it takes (HEAD comes with GET), the
    largest body it accepts, and whether it is quick enough to run on the loop."""

    handler: Handler
    methods: Sequence[str] = ("GET",)
    max_body: int = 0
    quick: bool = False


@dataclass
class Router:
    """Paths to routes; a missing path gets `not_found`'s answer."""

    not_found: str = "not found\n"
    routes: dict[str, Route] = field(default_factory=dict)

    def add(self, path: str, route: Route) -> None:
        """Serve `route` at `path`."""
        self.routes[path] = route


def max_connections() -> int:
    """Connections the server keeps open at most, within the process's file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(4, min(MAX_CONNECTIONS, soft - FD_RESERVE))


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    opened: float
    buf: bytearray = field(default_factory=bytearray)
    request: Request | None = None  # the head is read; the body may be on its way
    out: memoryview | None = None  # the answer being written
    deadline: float = 0.0
    working: bool = False


class BoundedServer:
    """Serves `router` on (host, port) from one thread (plus WORKERS for handlers)."""

    def __init__(self, host: str, port: int, router: Router) -> None:
        self.router = router
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
        self.sock.setblocking(False)
        self.limit = max_connections()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.sock, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._conns: set[_Conn] = set()
        self._done: deque[tuple[_Conn, bytes]] = deque()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="http-worker")
        self._pending = 0
        self._resume_at: float | None = None  # accepting paused until then
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens."""
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Serve in the background."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving; close every connection."""
        self._stop.set()
        self._wake()
        self.thread.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for conn in list(self._conns):
            self._close(conn)
        for s in (self.sock, self._wake_r, self._wake_w):
            s.close()

    def connections(self) -> int:
        """Connections open now."""
        return len(self._conns)

    # ------------------------------------------------------------------ the loop

    def _loop(self) -> None:
        while not self._stop.is_set():
            timeout = min([1.0, *(c.deadline - time.monotonic() for c in self._conns)])
            for key, events in self._sel.select(max(0.0, timeout)):
                if key.fileobj is self.sock:
                    self._accept()
                elif key.fileobj is self._wake_r:
                    self._drain_wake()
                elif events & selectors.EVENT_WRITE:
                    self._write(key.data)
                else:
                    self._read(key.data)
            self._expire()
            if self._resume_at is not None and time.monotonic() >= self._resume_at:
                self._resume_at = None
                self._sel.register(self.sock, selectors.EVENT_READ, None)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, _addr = self.sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # out of descriptors: make room, or pause accepting
                if exc.errno in (errno.EMFILE, errno.ENFILE) and self._evict():
                    continue
                self._pause(exc)
                return
            if len(self._conns) >= self.limit and not self._evict():
                sock.close()  # every connection is being answered: this one waits its turn
                continue
            sock.setblocking(False)
            now = time.monotonic()
            conn = _Conn(sock, now, deadline=now + HEAD_TIMEOUT_S)
            self._conns.add(conn)
            self._sel.register(sock, selectors.EVENT_READ, conn)
            self._read(conn)  # a client that sent its request at once is served at once

    def _pause(self, exc: OSError) -> None:
        """Stop accepting for a moment (the listening socket would wake the loop at once)."""
        log.warning("http: cannot accept connections for 1s: %s", exc.strerror or exc)
        self._sel.unregister(self.sock)
        self._resume_at = time.monotonic() + 1.0

    def _evict(self) -> bool:
        """Close the connection that has waited longest for its request; False if none."""
        waiting = [c for c in self._conns if not c.working and c.out is None]
        if not waiting:
            return False
        self._close(min(waiting, key=lambda c: c.opened))
        return True

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client left
            self._close(conn)
            return
        conn.buf += data
        try:
            self._progress(conn)
        except HttpError as exc:
            self._answer(conn, Response.text(exc.status, f"{exc.message}\n"), head_only=False)

    def _progress(self, conn: _Conn) -> None:
        """Parse what arrived; dispatch once the request is complete."""
        if conn.request is None:
            parsed = parse_head(conn.buf)
            if parsed is None:
                return
            conn.request, rest = parsed
            conn.buf = bytearray(rest)
            conn.deadline = conn.opened + REQUEST_TIMEOUT_S
        request = conn.request
        route = self.router.routes.get(request.path)
        if route is None:  # its body, if any, is never read
            self._dispatch(conn, request, None)
            return
        if request.length > route.max_body:
            raise HttpError(413, f"a body of at most {route.max_body} bytes")
        if len(conn.buf) >= request.length:
            self._dispatch(conn, request.with_body(bytes(conn.buf[: request.length])), route)

    def _dispatch(self, conn: _Conn, request: Request, route: Route | None) -> None:
        self._sel.unregister(conn.sock)
        conn.working, head_only = True, request.method == "HEAD"
        if route is None:
            self._answer(conn, Response.text(404, self.router.not_found), head_only)
            return
        allowed = [*route.methods, *(["HEAD"] if "GET" in route.methods else [])]
        if request.method not in allowed:
            allow = (("Allow", ", ".join(allowed)),)
            self._answer(conn, Response(405, b"method not allowed\n", headers=allow), head_only)
        elif route.quick:
            self._answer(conn, _call(route.handler, request), head_only)
        elif self._pending >= MAX_PENDING:
            self._answer(conn, Response.text(503, "busy: try again\n"), head_only)
        else:
            self._pending += 1
            self._pool.submit(self._work, conn, route.handler, request)

    def _work(self, conn: _Conn, handler: Handler, request: Request) -> None:
        data = _call(handler, request).encode(request.method == "HEAD")
        with self._lock:
            self._done.append((conn, data))
        self._wake()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            done, self._done = list(self._done), deque()
        for conn, data in done:
            self._pending -= 1
            if conn in self._conns:
                self._send(conn, data)

    def _answer(self, conn: _Conn, response: Response, head_only: bool) -> None:
        with _quiet:
            self._sel.unregister(conn.sock)
        conn.working = True
        self._send(conn, response.encode(head_only))

    def _send(self, conn: _Conn, data: bytes) -> None:
        conn.out, conn.deadline = memoryview(data), time.monotonic() + WRITE_TIMEOUT_S
        self._sel.register(conn.sock, selectors.EVENT_WRITE, conn)
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        assert conn.out is not None
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the client left
            self._close(conn)
            return
        conn.out = conn.out[sent:]
        if not conn.out:
            self._close(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in [c for c in self._conns if c.deadline <= now and not c.working]:
            if conn.out is None:
                with _quiet:
                    conn.sock.send(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n")
            self._close(conn)
        for conn in [c for c in self._conns if c.out is not None and c.deadline <= now]:
            self._close(conn)  # it does not read its answer

    def _close(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        with _quiet:
            self._sel.unregister(conn.sock)
        conn.sock.close()

    def _wake(self) -> None:
        with _quiet:
            self._wake_w.send(b"x")


def _call(handler: Handler, request: Request) -> Response:
    """The handler's answer; 503 naming the failure when it raises (keep serving)."""
    try:
        return handler(request)
    except Exception as exc:
        return Response.text(503, f"{type(exc).__name__}: {exc}\n")
