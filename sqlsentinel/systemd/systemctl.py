"""A thin wrapper around `systemctl` (system or `--user`): failures become SystemdError.

The manager runs one thing at a time, so no timer fires while it answers. It is asked
only for what is needed: which units are loaded and in what state comes from one
`list-units` (and the timers' next and last elapse from one `list-timers`) over a glob
pattern, which only reads what the manager holds in memory. `systemctl show` is never
used: it fetches every property of each unit, and computing `UnitFileState` scans every
unit folder, so `show` over thousands of units costs the manager seconds, and naming a
unit that is not loaded makes the manager load it. Jobs (start, stop, reset-failed) go
in batches of `BATCH` units, so a call's size and duration stay bounded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlsentinel.errors import SystemdError

_GLOB = re.compile(r"[*?\[\\]")
RUNNING = frozenset({"active", "activating", "deactivating", "reloading", "refreshing"})
LISTING_S = 5.0  # a listing the manager does not answer in this long fails (the daemon's
# loop asks between applies: two such calls stay within half its 30 s watchdog)


@dataclass(frozen=True)
class UnitState:
    """What `list-units` says of a loaded unit."""

    load: str  # loaded, not-found, masked, ...
    active: str  # active, inactive, failed, activating, ...


@dataclass(frozen=True)
class TimerTimes:
    """A timer's next and last elapse as systemd reports them, in µs since the epoch (0: none)."""

    next_usec: int
    last_usec: int


class Systemctl:
    """Run `systemctl [--user] …` and raise SystemdError with its stderr when it fails."""

    BATCH: ClassVar[int] = 500  # units per start/stop/reset-failed call

    def __init__(self, user: bool) -> None:
        self.base = ["systemctl", "--user"] if user else ["systemctl"]

    def run(self, *args: str, timeout: float | None = None) -> str:
        """Run one systemctl command and return its stdout (timestamps in UTC); `timeout`
        bounds a call that only reads (SystemdError when the manager does not answer)."""
        argv = [*self.base, "--no-pager", "--no-ask-password", *args]
        env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, check=False, env=env, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            shown = " ".join([*self.base, *args[:1]])
            raise SystemdError(f"`{shown}` got no answer in {timeout:g}s") from None
        except OSError as exc:
            raise SystemdError(f"cannot run systemctl: {exc.strerror or exc}") from None
        if done.returncode != 0:
            shown = " ".join([*self.base, *args[:4]]) + (" …" if len(args) > 4 else "")
            detail = done.stderr.strip() or f"exit status {done.returncode}"
            raise SystemdError(f"`{shown}` failed: {detail}")
        return done.stdout

    def daemon_reload(self) -> None:
        """Make the manager re-read unit files."""
        self.run("daemon-reload")

    def start(self, units: Sequence[str]) -> None:
        """Start units (a no-op for active ones), a batch per call."""
        for batch in _batches(units, self.BATCH):
            self.run("start", "--", *batch)

    def stop(self, units: Sequence[str]) -> None:
        """Stop those of `units` that are running, then reset those that failed.

        Units that are not loaded or already inactive are left alone. A failed unit
        would stay listed by `systemctl --failed` after its files are gone, and a oneshot
        service stopped mid-run ends failed (`Result=signal`), hence the second listing.
        """
        states = self.unit_states(units)
        running = [u for u in units if u in states and states[u].active in RUNNING]
        for batch in _batches(running, self.BATCH):
            self.run("stop", "--", *batch)
        if any(u.endswith(".service") for u in running):
            states = self.unit_states(units)
        failed = [u for u in units if u in states and states[u].active == "failed"]
        for batch in _batches(failed, self.BATCH):
            self.run("reset-failed", "--", *batch)

    def unit_states(self, units: Sequence[str]) -> dict[str, UnitState]:
        """The load and active state of those of `units` the manager has loaded (one call)."""
        wanted = set(units)
        rows = self._listing("list-units", units)
        return {r["unit"]: UnitState(r["load"], r["active"]) for r in rows if r["unit"] in wanted}

    def timer_times(self, timers: Sequence[str]) -> dict[str, TimerTimes]:
        """Next and last elapse of those of `timers` the manager has loaded (one call)."""
        wanted = set(timers)
        rows = self._listing("list-timers", timers)
        return {
            r["unit"]: TimerTimes(int(r["next"] or 0), int(r["last"] or 0))
            for r in rows
            if r["unit"] in wanted
        }

    def _listing(self, command: str, units: Sequence[str]) -> list[dict[str, Any]]:
        """`systemctl COMMAND --all --output=json PATTERN` for one glob covering `units`."""
        if not units:
            return []
        pattern = covering_pattern(units)
        out = self.run(command, "--all", "--output=json", "--", pattern, timeout=LISTING_S)
        try:
            rows = json.loads(out or "[]")
        except ValueError:
            raise SystemdError(f"`systemctl {command}` printed something other than JSON") from None
        return [r for r in rows if isinstance(r, dict) and isinstance(r.get("unit"), str)]


def covering_pattern(units: Sequence[str]) -> str:
    """One glob matching every name in `units`: their common prefix (up to a glob character)."""
    prefix = os.path.commonprefix(list(units))  # noqa: RUF071  (names, not paths)
    found = _GLOB.search(prefix)
    return (prefix[: found.start()] if found else prefix) + "*"


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
