"""Telling systemd how the daemon is doing (sd_notify, through `sdnotify`).

Outside systemd (no NOTIFY_SOCKET) every call does nothing. The socket and watchdog
variables are removed from the environment once read, so the checks and `systemctl`
calls the daemon starts never inherit them (NotifyAccess=main would refuse them anyway).
"""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping

import sdnotify

STATUS_MAX = 200


def status_text(text: str) -> str:
    """One line of latin-1 (sdnotify drops a message it cannot encode), at most STATUS_MAX."""
    line = " ".join(text.split())
    if len(line) > STATUS_MAX:
        line = line[: STATUS_MAX - 3] + "..."
    return line.encode("latin-1", "replace").decode("latin-1")


def watchdog_interval(environ: MutableMapping[str, str], pid: int) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), when the watchdog is ours."""
    usec = environ.pop("WATCHDOG_USEC", "")
    owner = environ.pop("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (owner and owner != str(pid)):
        return None
    return int(usec) / 2e6


class Notifier:
    """sd_notify messages: READY, STATUS, RELOADING, WATCHDOG, STOPPING."""

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._notifier = sdnotify.SystemdNotifier() if env.get("NOTIFY_SOCKET") else None
        env.pop("NOTIFY_SOCKET", None)  # after connecting: children must not inherit it
        self.watchdog_s = watchdog_interval(env, os.getpid())

    @property
    def active(self) -> bool:
        """True when a service manager listens."""
        return self._notifier is not None

    def _send(self, *assignments: str) -> None:
        if self._notifier is not None:
            self._notifier.notify("\n".join(assignments))

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
