"""How `sqlsentinel reload` knows that the daemon has applied a reload it asked for.

The daemon keeps `<runtime dir>/reload-<pid>` holding `STARTED FINISHED RESULT`: the
number of the reload in progress, of the last one finished, and how that one ended.
A client reads STARTED, sends SIGHUP and waits until FINISHED exceeds it: that reload
began after the signal, so it read the file as the client left it. (On systemd 252,
`systemctl reload` returns when ExecReload= exits; `Type=notify-reload` needs 253.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlsentinel.atomic import atomic_write
from sqlsentinel.core.reload import ReloadResult


def runtime_dir(environ: Mapping[str, str]) -> Path:
    """$RUNTIME_DIRECTORY (systemd), /run/sqlsentinel for root, else $XDG_RUNTIME_DIR's."""
    if environ.get("RUNTIME_DIRECTORY"):
        return Path(environ["RUNTIME_DIRECTORY"].split(":")[0])
    if os.geteuid() == 0:
        return Path("/run/sqlsentinel")
    base = environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"sqlsentinel-{os.geteuid()}"


def ack_path(pid: int, environ: Mapping[str, str]) -> Path:
    """The acknowledgement file of the daemon with process id `pid`."""
    return runtime_dir(environ) / f"reload-{pid}"


@dataclass(frozen=True)
class AckState:
    """What the file says."""

    started: int
    finished: int
    result: str  # how the last finished reload ended, and the status line it left

    @property
    def outcome(self) -> ReloadResult | None:
        """How it ended (None before the first reload finished)."""
        word = self.result.split(" ", 1)[0]
        return ReloadResult(word) if word in set(ReloadResult) else None


def read_ack(path: Path) -> AckState | None:
    """The file's content, or None while it is missing or being replaced."""
    try:
        started, finished, result = path.read_text(encoding="utf-8").split(" ", 2)
        return AckState(int(started), int(finished), result.strip())
    except (OSError, ValueError):
        return None


class ReloadAck:
    """The daemon's side: count reloads as they start and finish."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = self.finished = 0
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._write("started")

    def begin(self) -> None:
        """A reload starts."""
        self.started += 1
        self._write("reloading")

    def finish(self, result: str) -> None:
        """The reload in progress is done: `result` says how it ended."""
        self.finished = self.started
        self._write(result)

    def remove(self) -> None:
        """The daemon stops."""
        self.path.unlink(missing_ok=True)

    def _write(self, result: str) -> None:
        line = " ".join(result.split())
        atomic_write(self.path, f"{self.started} {self.finished} {line}\n".encode(), 0o600)


def request_reload(pid: int, environ: Mapping[str, str], timeout: float) -> AckState | None:
    """SIGHUP daemon `pid` and wait until a reload that began after it has finished.

    Returns that reload's acknowledgement, or None when none came within `timeout`.
    Raises FileNotFoundError when `pid` keeps no acknowledgement file (not a daemon, or
    another runtime directory), OSError when it cannot be signalled.
    """
    import signal
    import time

    path = ack_path(pid, environ)
    before = read_ack(path)
    if before is None:
        raise FileNotFoundError(f"{path} does not exist: is {pid} a sqlsentinel daemon?")
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_ack(path)
        if state is not None and state.finished > before.started:
            return state
        time.sleep(0.05)
    return None
