"""sd_notify messages through a real datagram socket, as systemd receives them."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from sqlsentinel.daemon.sd_notify import Notifier, status_text, watchdog_interval


class Recorder:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def messages(self) -> list[dict[str, str]]:
        out = []
        self.sock.settimeout(0.2)
        while True:
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, BlockingIOError):
                return out
            out.append(dict(line.split("=", 1) for line in data.decode("utf-8").splitlines()))


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    name = f"sqlsentinel-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    yield Recorder(sock)
    sock.close()


def test_the_sequence_and_the_socket_leaves_the_environment(notify_socket: Recorder) -> None:
    n = Notifier()
    assert n.active and "NOTIFY_SOCKET" not in os.environ  # children never inherit it
    n.ready("2 alerts scheduled; next: Paiements échoués → 漢 at 09:00")  # not latin-1
    n.reloading()
    n.ready("ok")
    n.watchdog()
    n.stopping()
    got = notify_socket.messages()
    assert got[0] == {
        "READY": "1",
        "STATUS": "2 alerts scheduled; next: Paiements échoués → 漢 at 09:00",
    }
    assert got[1]["RELOADING"] == "1" and int(got[1]["MONOTONIC_USEC"]) > 0
    assert got[2:] == [
        {"READY": "1", "STATUS": "ok"},
        {"WATCHDOG": "1"},
        {"STOPPING": "1", "STATUS": "stopping"},
    ]


def test_without_systemd_nothing_is_sent_and_nothing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    assert not n.active
    n.ready("x")
    n.stopping()


def test_status_is_one_bounded_line_of_valid_utf8() -> None:
    assert status_text("a\nb\tc  é 漢") == "a b c é 漢"
    assert status_text("bad \x1b[31m file \udce9.yaml") == "bad \ufffd[31m file \ufffd.yaml"
    status_text("\udce9 \ud800").encode("utf-8")  # never raises: what systemd gets is UTF-8
    assert len(status_text("é" * 500)) == 200


def test_watchdog_interval_is_half_and_only_ours() -> None:
    env = {"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "42"}
    assert watchdog_interval(env, 42) == 5.0 and env == {}  # read once, then removed
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "7"}, 42) is None
    assert watchdog_interval({"WATCHDOG_USEC": "4000000"}, 42) == 2.0
    assert watchdog_interval({}, 42) is None
