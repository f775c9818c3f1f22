"""The probe port with real sockets: HEAD everywhere, budgets (414, 431, 413, 408), quiet
clients that leave, the connection cap; and the daemon under attack (bench/bench_probe_port.py:
idle connections, slowloris, huge headers) still starts its checks on time."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REPO

from sqlsentinel.daemon import httpserver
from sqlsentinel.daemon.http import METRICS_TYPE, Probes, ProbeServer
from sqlsentinel.daemon.http_parse import Request
from sqlsentinel.daemon.httpserver import BoundedServer, Response, Route, Router


def _probes() -> Probes:
    return Probes(lambda: (True, "fine"), lambda: (False, "no config applied"), lambda: "m 1\n")


@pytest.fixture
def port() -> Iterator[int]:
    server = ProbeServer("127.0.0.1", 0, _probes())
    server.start()
    yield server.server.address[1]
    server.stop()


def _ask(port: int, data: bytes, *, close: bool = True) -> bytes:
    """Send `data`, return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_head_answers_on_every_probe_path_like_get_without_the_body(port: int) -> None:
    for path, status in (("/health", 200), ("/ready", 503), ("/metrics", 200)):
        get = _ask(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = _ask(port, f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
        assert head == get.split(b"\r\n\r\n")[0] + b"\r\n\r\n"  # same head, no body
    assert f"Content-Type: {METRICS_TYPE}".encode() in _ask(port, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    assert _ask(port, b"GET /nope HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404 ")
    post = _ask(port, b"POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert post.startswith(b"HTTP/1.1 405 ") and b"Allow: GET, HEAD" in post


def test_a_request_over_its_budget_is_refused_at_once(port: int) -> None:
    long_line = b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n"
    assert _ask(port, long_line).startswith(b"HTTP/1.1 414 ")
    big_head = b"GET /health HTTP/1.1\r\n" + b"X-A: " + b"b" * 20_000 + b"\r\n\r\n"
    assert _ask(port, big_head, close=False).startswith(b"HTTP/1.1 431 ")
    many = b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 70 + b"\r\n"
    assert _ask(port, many).startswith(b"HTTP/1.1 431 ")
    assert _ask(port, b"GET / FTP/9\r\n\r\n").startswith(b"HTTP/1.1 400 ")


def test_a_client_that_stalls_is_cut_off_and_one_that_leaves_is_quiet(
    port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sqlsentinel")
    monkeypatch.setattr(httpserver, "HEAD_TIMEOUT_S", 1.0)
    began = time.monotonic()
    slow = _ask(port, b"GET /health HTTP/1.1\r\nX-Slow: ", close=False)
    assert slow.startswith(b"HTTP/1.1 408 ") and time.monotonic() - began < 5
    for _ in range(20):  # clients that hang up mid-request or before reading the answer
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    assert _ask(port, b"GET /health HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 200 ")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_at_the_cap_the_longest_waiting_connection_makes_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(httpserver, "MAX_CONNECTIONS", 8)
    server = ProbeServer("127.0.0.1", 0, _probes())
    server.start()
    port = server.server.address[1]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(30)]
    try:
        for _ in range(10):
            assert _ask(port, b"GET /health HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 200 ")
        assert server.server.connections() <= 8
    finally:
        for s in idle:
            s.close()
        server.stop()


def test_a_route_with_a_body_gets_it_within_its_limit() -> None:
    """The router takes more than probes (the ack page's POST is to come)."""

    def echo(request: Request) -> Response:
        return Response.text(200, f"{request.method} {request.params()} {request.body!r}")

    router = Router()
    router.add("/echo", Route(echo, methods=("POST",), max_body=10))
    server = BoundedServer("127.0.0.1", 0, router)
    server.start()
    port = server.address[1]
    try:
        ok = _ask(port, b"POST /echo?a=1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        assert ok.endswith(b"POST {'a': '1'} b'hello'")
        too_big = _ask(port, b"POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\n", close=False)
        assert too_big.startswith(b"HTTP/1.1 413 ")
        chunked = b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        assert _ask(port, chunked, close=False).startswith(b"HTTP/1.1 411 ")
    finally:
        server.stop()


def test_under_attack_checks_start_on_time_and_health_answers(tmp_path: Path) -> None:
    """200 idle connections, 50 slowloris clients and 20 clients sending 5.7 MB of headers,
    with the daemon's file limit at 256, until its every-minute check has started."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_probe_port.py"), "--ticks", "1", "--json"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    print(figures)
    assert figures["checks_started_during"] >= 1 and figures["checks_not_started"] == 0
    assert max(figures["checks_late_ms"]) < 5000  # on a loaded 2-core machine
    assert figures["health_ok"] >= 0.9 * figures["health_asked"] > 0
    assert figures["daemon_rss_mib_max"] < 150 and figures["daemon_fds_max"] < 256 - 16
    assert figures["tracebacks"] == 0
    assert figures["attackers_held_max"] >= 200  # the attack did happen
