"""Telling systemd how the daemon is doing (the sd_notify protocol, spoken directly).

A message is newline-separated assignments in one datagram to $NOTIFY_SOCKET, in UTF-8:
systemd ignores a STATUS= that is not valid UTF-8, so the text is never sent in another
encoding (the `sdnotify` package sent Latin-1, which blanked any line with "é").
Outside systemd (no NOTIFY_SOCKET) every call does nothing. The socket and watchdog
variables are removed from the environment once read, so the checks and `systemctl`
calls the daemon starts never inherit them (NotifyAccess=main would refuse them anyway).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import MutableMapping

log = logging.getLogger("sqlsentinel.daemon")
STATUS_MAX = 200  # characters of the status line


def status_text(text: str) -> str:
    """One printable line of at most STATUS_MAX characters that encodes as valid UTF-8.

    Whitespace runs become one space; other control characters and code points UTF-8
    cannot carry (lone surrogates, e.g. an undecodable file name's bytes) become U+FFFD.
    """
    line = " ".join(text.split())
    line = "".join(c if c.isprintable() else "\ufffd" for c in line)
    line = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if len(line) > STATUS_MAX:
        line = line[: STATUS_MAX - 3] + "..."
    return line


def watchdog_interval(environ: MutableMapping[str, str], pid: int) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), when the watchdog is ours."""
    usec = environ.pop("WATCHDOG_USEC", "")
    owner = environ.pop("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (owner and owner != str(pid)):
        return None
    return int(usec) / 2e6


def _connect(address: str) -> socket.socket | None:
    """A datagram socket connected to $NOTIFY_SOCKET (a path, or `@name`: abstract)."""
    if not address.startswith(("/", "@")):  # vsock: not for a service of this host
        log.warning("NOTIFY_SOCKET=%s is not a unix socket: systemd is not told", address)
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect("\0" + address[1:] if address.startswith("@") else address)
    except OSError as exc:
        sock.close()
        log.warning("cannot reach NOTIFY_SOCKET=%s: %s", address, exc.strerror or exc)
        return None
    return sock


class Notifier:
    """sd_notify messages: READY, STATUS, RELOADING, WATCHDOG, STOPPING."""

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.pop("NOTIFY_SOCKET", "")  # children must not inherit it
        self._socket = _connect(address) if address else None
        self.watchdog_s = watchdog_interval(env, os.getpid())

    @property
    def active(self) -> bool:
        """True when a service manager listens."""
        return self._socket is not None

    def _send(self, *assignments: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.send("\n".join(assignments).encode("utf-8"))
        except OSError as exc:  # the manager is gone or busy: the daemon goes on
            log.warning("sd_notify: %s", exc.strerror or exc)

    def ready(self, status: str) -> None:
        """Started, or a reload finished."""
        self._send("READY=1", f"STATUS={status_text(status)}")

    def status(self, status: str) -> None:
        """A new status line."""
        self._send(f"STATUS={status_text(status)}")

    def reloading(self) -> None:
        """A reload begins (READY=1 ends it)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading the config")

    def watchdog(self) -> None:
        """The main loop is alive."""
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        """Shutting down."""
        self._send("STOPPING=1", "STATUS=stopping")
