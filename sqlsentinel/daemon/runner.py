"""The local backend's checks: each tick runs `sqlsentinel run --alert NAME` in a child.

Never two runs of one alert at once: a tick that finds its alert's previous run still
going (or still waiting) is skipped and logged, as systemd does for a timer whose
service is active. At most `max_running` checks run at once; further ticks wait in
order. Each child gets `TRIGGER_TIMER_REALTIME_USEC` (the tick's planned instant),
which `run` records as `scheduled_at`, like a timer-started service. Children run in
their own process group, so a Ctrl-C meant for the daemon does not cut their checks.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from sqlsentinel.daemon.scheduler import Tick

log = logging.getLogger("sqlsentinel.daemon")
Submitted = Literal["started", "queued", "skipped"]
KILL_AFTER_S = 2.0  # after SIGTERM, before SIGKILL
RECENT = 3  # checks whose exit codes tell whether runs can be recorded
STATE_DB_EXIT = 4  # `run`'s exit code when the result could not be recorded


@dataclass
class _Check:
    tick: Tick
    proc: subprocess.Popen[bytes]
    started: float  # monotonic


class CheckRunner:
    """Starts, bounds and reaps the checks' child processes."""

    def __init__(
        self,
        argv_for: Callable[[str], list[str]],
        max_running: int,
        environ: Mapping[str, str],
    ) -> None:
        self.argv_for = argv_for
        self.max_running = max_running
        self.environ = dict(environ)
        self._running: dict[str, _Check] = {}
        self._waiting: deque[Tick] = deque()
        self.recent_exits: deque[int] = deque(maxlen=RECENT)  # the latest checks', oldest first

    def busy(self) -> list[str]:
        """Alerts whose check is running."""
        return sorted(self._running)

    def submit(self, tick: Tick) -> Submitted:
        """Start the tick's check now, queue it, or skip it (its alert is still busy)."""
        if tick.job in self._running or any(w.job == tick.job for w in self._waiting):
            log.warning(
                "tick skipped alert=%r scheduled=%s reason=previous run still running",
                tick.job,
                tick.scheduled.isoformat(),
            )
            return "skipped"
        if len(self._running) >= self.max_running:
            self._waiting.append(tick)
            log.info("tick queued alert=%r running=%d", tick.job, len(self._running))
            return "queued"
        self._start(tick)
        return "started"

    def cannot_record(self) -> str | None:
        """Why runs cannot be recorded, when each of the latest RECENT checks exited 4."""
        if len(self.recent_exits) == RECENT and set(self.recent_exits) == {STATE_DB_EXIT}:
            return (
                f"the last {RECENT} checks could not record their results (exit "
                f"{STATE_DB_EXIT}): see their errors in the log"
            )
        return None

    def forget(self, keep: set[str]) -> None:
        """Drop waiting ticks of alerts that left the config."""
        self._waiting = deque(t for t in self._waiting if t.job in keep)

    def reap(self) -> int:
        """Collect finished checks and start waiting ones; how many finished."""
        finished = 0
        for name, check in list(self._running.items()):
            code = check.proc.poll()
            if code is None:
                continue
            del self._running[name]
            finished += 1
            self.recent_exits.append(code)
            log.info(
                "check finished alert=%r exit=%d seconds=%.1f",
                name,
                code,
                time.monotonic() - check.started,
            )
        while self._waiting and len(self._running) < self.max_running:
            self._start(self._waiting.popleft())
        return finished

    def _start(self, tick: Tick) -> None:
        env = dict(self.environ)
        env["TRIGGER_TIMER_REALTIME_USEC"] = str(round(tick.scheduled.timestamp() * 1_000_000))
        try:
            proc = subprocess.Popen(
                self.argv_for(tick.job),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                process_group=0,
            )
        except OSError as exc:
            log.error("check not started alert=%r error=%s", tick.job, exc.strerror or exc)
            return
        self._running[tick.job] = _Check(tick, proc, time.monotonic())
        late = time.time() - tick.scheduled.timestamp()
        kind = " catch_up=yes" if tick.catch_up else ""
        log.info(
            "check started alert=%r scheduled=%s late_ms=%d pid=%d%s",
            tick.job,
            tick.scheduled.isoformat(),
            late * 1000,
            proc.pid,
            kind,
        )

    def stop(self, grace_s: float) -> None:
        """Drop waiting ticks; wait up to `grace_s` for running checks, then end them."""
        self._waiting.clear()
        deadline = time.monotonic() + grace_s
        if self._running:
            log.info("waiting up to %gs for %d running check(s)", grace_s, len(self._running))
        while self._running and time.monotonic() < deadline:
            time.sleep(0.05)
            self.reap()
        for sig, wait in ((signal.SIGTERM, KILL_AFTER_S), (signal.SIGKILL, KILL_AFTER_S)):
            if not self._running:
                return
            for name, check in self._running.items():
                log.warning("check cut short alert=%r signal=%s", name, sig.name)
                check.proc.send_signal(sig)
            end = time.monotonic() + wait
            while self._running and time.monotonic() < end:
                time.sleep(0.05)
                self.reap()
