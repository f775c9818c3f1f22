"""Writing the daemon's heartbeat and next runs to the state database, off the main loop.

A state database that is locked or unreachable must never stall the scheduling loop
(its watchdog would kill the daemon): a thread writes the latest heartbeat and next
runs handed to it, and a failed write is logged once and retried with the next beat.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlsentinel.errors import SentinelError
from sqlsentinel.state.daemon_state import Heartbeat, record_heartbeat, record_next_runs
from sqlsentinel.state.db import StateDB

log = logging.getLogger("sqlsentinel.daemon")


class StateRecorder:
    """A thread that writes what the daemon wants others to read."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        self._lock = threading.Condition()
        self._beat: Heartbeat | None = None
        self._runs: dict[str, datetime | None] | None = None
        self._closing = False
        self._ready = False
        self._last_error = ""
        self._thread = threading.Thread(target=self._loop, name="state-recorder", daemon=True)

    def start(self) -> None:
        """Start writing."""
        self._thread.start()

    def submit(self, beat: Heartbeat, runs: dict[str, datetime | None] | None = None) -> None:
        """Write `beat` (and `runs`, when given) soon; newer values replace waiting ones."""
        with self._lock:
            self._beat = beat
            if runs is not None:
                self._runs = runs
            self._lock.notify()

    def close(self, beat: Heartbeat, timeout: float) -> None:
        """Write the last heartbeat (a clean stop) and end the thread, within `timeout`."""
        self.submit(beat)
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join(timeout)

    def _loop(self) -> None:
        unwritten: dict[str, datetime | None] | None = None  # next runs a failed write kept
        while True:
            with self._lock:
                while self._beat is None and not self._closing:
                    self._lock.wait()
                beat, runs, closing = self._beat, self._runs, self._closing
                self._beat = self._runs = None
            runs = runs if runs is not None else unwritten
            if beat is not None:
                unwritten = None if self._write(beat, runs) else runs
            if closing:
                return

    def _write(self, beat: Heartbeat, runs: dict[str, datetime | None] | None) -> bool:
        """Write; on failure log (once per distinct error) and wait for the next beat."""
        try:
            if not self._ready:
                self.db.ensure_schema()
                self._ready = True
            record_heartbeat(self.db, beat)
            if runs is not None:
                record_next_runs(self.db, beat.config, runs)
        except SentinelError as exc:
            if str(exc) != self._last_error:
                log.error("cannot record the heartbeat: %s", exc)
            self._last_error = str(exc)
            return False
        if self._last_error:
            log.info("recording the heartbeat again")
        self._last_error = ""
        return True
