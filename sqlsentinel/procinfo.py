"""This process as the OS sees it: when it was launched, and a holder id whose liveness others
can check (Linux /proc; elsewhere the answers degrade to "unknown")."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from functools import cache


def start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: the process start, in clock ticks after boot."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[19])


def launched_at() -> datetime:
    """When this process was started (by systemd, for a timer's tick), to 10 ms; else now.

    The start is counted in clock ticks after boot (CLOCK_BOOTTIME), so its age is the
    boot clock now minus the start: exact to a tick, unlike /proc/stat's whole-second btime.
    """
    ticks = start_ticks(os.getpid())
    if ticks is None:
        return datetime.now(UTC)
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    return datetime.fromtimestamp(time.time() - max(0.0, age), UTC)


@cache
def holder_id() -> str:
    """`host:pid:start` naming this process uniquely (pid reuse changes `start`)."""
    return f"{os.uname().nodename}:{os.getpid()}:{start_ticks(os.getpid()) or 0}"


def holder_gone(holder: str) -> bool:
    """True when `holder` was a process on this host that no longer runs."""
    try:
        host, pid, start = holder.rsplit(":", 2)
        alive = start_ticks(int(pid)) == int(start)
    except ValueError:
        return False
    return host == os.uname().nodename and not alive  # another host: only its lease can tell
