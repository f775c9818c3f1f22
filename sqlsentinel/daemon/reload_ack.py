"""How `sqlsentinel reload` knows that the daemon has applied a reload it asked for.

The daemon keeps `<runtime dir>/reload-<pid>` holding `STARTED FINISHED PROCESS RESULT`:
the number of the reload in progress, of the last one finished, the daemon's process start
(so a pid reused after the daemon was killed is never signalled: `procinfo.start_ticks`),
and how the last reload ended. A client reads STARTED, sends SIGHUP and waits until
FINISHED exceeds it: that reload began after the signal, so it read the file as the client
left it. (On systemd 252, `systemctl reload` returns when ExecReload= exits;
`Type=notify-reload` needs 253.)

The runtime folder is never a shared one (the spec cache's rule): $RUNTIME_DIRECTORY,
/run/sqlsentinel for root, $XDG_RUNTIME_DIR, else the state folder; a folder that is not
the current user's alone (another user may create `/tmp/sqlsentinel-<uid>` first) is
refused, never written or read.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlsentinel.atomic import atomic_write
from sqlsentinel.core.reload import ReloadResult
from sqlsentinel.errors import StateDBError
from sqlsentinel.procinfo import start_ticks
from sqlsentinel.safedir import only_ours
from sqlsentinel.state.location import state_dir


class NotPrivate(OSError):
    """The runtime folder is not the current user's alone."""


def runtime_dir(environ: Mapping[str, str]) -> Path:
    """$RUNTIME_DIRECTORY (systemd), /run/sqlsentinel for root, $XDG_RUNTIME_DIR's, else the
    state folder's `run/` (StateDBError when there is none)."""
    if environ.get("RUNTIME_DIRECTORY"):
        return Path(environ["RUNTIME_DIRECTORY"].split(":")[0])
    if os.geteuid() == 0:
        return Path("/run/sqlsentinel")
    if environ.get("XDG_RUNTIME_DIR", "").startswith("/"):
        return Path(environ["XDG_RUNTIME_DIR"]) / f"sqlsentinel-{os.geteuid()}"
    return state_dir(environ) / "run"


def ack_path(pid: int, environ: Mapping[str, str]) -> Path:
    """The acknowledgement file of the daemon with process id `pid`."""
    return runtime_dir(environ) / f"reload-{pid}"


def private_folder(folder: Path, *, create: bool) -> None:
    """Make sure `folder` is the current user's to write alone (created 0700 when `create`);
    NotPrivate when someone else owns it, may write it, or could swap it."""
    if create:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    st = os.lstat(folder)
    mine = stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
    if not mine or st.st_mode & 0o022 or not only_ours(folder):
        raise NotPrivate(
            f"{folder} is not private to uid {os.geteuid()} (owner uid {st.st_uid}, mode "
            f"{stat.S_IMODE(st.st_mode):04o}): the reload acknowledgement is never kept there"
        )


@dataclass(frozen=True)
class AckState:
    """What the file says."""

    started: int
    finished: int
    process: int  # the daemon's start, in clock ticks after boot
    result: str  # how the last finished reload ended, and the status line it left

    @property
    def outcome(self) -> ReloadResult | None:
        """How it ended (None before the first reload finished)."""
        word = self.result.split(" ", 1)[0]
        return ReloadResult(word) if word in set(ReloadResult) else None


def read_ack(path: Path) -> AckState | None:
    """The file's content, or None while it is missing or being replaced."""
    try:
        started, finished, process, result = path.read_text(encoding="utf-8").split(" ", 3)
        return AckState(int(started), int(finished), int(process), result.strip())
    except (OSError, ValueError):
        return None


class ReloadAck:
    """The daemon's side: count reloads as they start and finish."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = self.finished = 0
        self.process = start_ticks(os.getpid()) or 0
        private_folder(path.parent, create=True)
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
        text = f"{self.started} {self.finished} {self.process} {line}\n"
        atomic_write(self.path, text.encode(), 0o600)


def request_reload(pid: int, environ: Mapping[str, str], timeout: float) -> AckState | None:
    """SIGHUP daemon `pid` and wait until a reload that began after it has finished.

    Returns that reload's acknowledgement, or None when none came within `timeout`.
    Raises FileNotFoundError when `pid` keeps no acknowledgement file (not a daemon, or
    another runtime directory), ProcessLookupError when `pid` is not the process that
    wrote it (the daemon is gone and its pid was reused), OSError when it cannot be
    signalled or the folder is not private.
    """
    import signal
    import time

    try:
        path = ack_path(pid, environ)
    except StateDBError as exc:
        raise FileNotFoundError(f"no runtime folder: {exc}") from None
    private_folder(path.parent, create=False)
    before = read_ack(path)
    if before is None:
        raise FileNotFoundError(f"{path} does not exist: is {pid} a sqlsentinel daemon?")
    handle = os.pidfd_open(pid)  # pins the process: a pid reused after this is not signalled
    try:
        if start_ticks(pid) != before.process:
            raise ProcessLookupError(
                f"process {pid} is not the daemon that wrote {path}: that daemon is gone and "
                "its process id was reused; remove the file"
            )
        signal.pidfd_send_signal(handle, signal.SIGHUP)
    finally:
        os.close(handle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_ack(path)
        if state is not None and state.finished > before.started:
            return state
        time.sleep(0.05)
    return None
