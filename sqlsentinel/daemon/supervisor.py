"""The supervisor: keeps the applied config running, follows the file, reports how it goes.

`start()` applies the config (or, when it is invalid, the copy applied before); `run()`
loops: it reloads on a settled change of the file or on `request_reload()` (SIGHUP),
lets the backend fire what is due, beats, pings the watchdog, and returns 0 after
`stop()`. Signals stay in the command: these methods are what the handlers call, and
what tests drive. An invalid edit changes nothing: its problems are logged with
file:line, recorded as rejected, and the status line says so.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlsentinel.applied.accept import Accepted
from sqlsentinel.applied.store import AppliedMeta, AppliedStore
from sqlsentinel.config.fallbacks import NO_FALLBACKS, Fallbacks
from sqlsentinel.config.read import read_config
from sqlsentinel.core.reload import ReloadResult
from sqlsentinel.daemon import status
from sqlsentinel.daemon.backend import Applied, Backend
from sqlsentinel.daemon.recorder import StateRecorder
from sqlsentinel.daemon.reload_ack import ReloadAck
from sqlsentinel.daemon.sd_notify import Notifier
from sqlsentinel.daemon.stale_watch import StaleWatch
from sqlsentinel.daemon.watch import POLL_S, FileWatch
from sqlsentinel.digest import sha256
from sqlsentinel.errors import ConfigError, Problem, SentinelError, StateDBError, SystemdError
from sqlsentinel.state.daemon_state import Heartbeat, read_daemon_status
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.location import resolve_state_url
from sqlsentinel.state.schema import SCHEMA_VERSION

log = logging.getLogger("sqlsentinel.daemon")
HEARTBEAT_S = 30.0  # state database heartbeat
MAX_SLEEP_S = 5.0  # the loop runs at least this often (so /health can tell it is alive)
STALL_S = 3 * MAX_SLEEP_S  # /health fails when the loop has not run for this long
RETRY_S = 30.0  # retry an apply that systemctl refused
READY_WAIT_S = 1.0  # /ready waits this long for a lock the state database's probe needs


@dataclass
class DaemonSettings:
    """What the supervisor needs besides its parts."""

    config: str  # absolute path
    state_db: str | None = None  # --state-db (else the config's, else the default)
    fallbacks: Fallbacks = NO_FALLBACKS
    watch: bool = True
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


class Supervisor:
    """Applies, watches and reports; the backend does the scheduling."""

    def __init__(
        self,
        settings: DaemonSettings,
        store: AppliedStore,
        backend: Backend,
        notifier: Notifier,
        ack: ReloadAck | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.store, self.backend = settings, store, backend
        self.notifier, self.ack, self.clock = notifier, ack, clock
        self.db: StateDB | None = None
        self.recorder: StateRecorder | None = None
        self.stale_watch: StaleWatch | None = None
        self.applied: Applied | None = None
        self.meta: AppliedMeta | None = None  # what the store says, as this daemon last saw it
        self.failure: str | None = None  # why the latest valid config could not be applied
        self.line = "starting"
        self.started_at = clock()
        self.loop_at = time.monotonic()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = False
        self._watch = FileWatch(settings.config) if settings.watch else None
        self._next_beat = self._next_ping = self._retry_at = 0.0

    # ------------------------------------------------------------------ control

    def request_reload(self) -> None:
        """Reload at the next turn of the loop, even if the file did not change (SIGHUP)."""
        self._reload_requested = True
        self._wake.set()

    def stop(self) -> None:
        """End the loop (SIGTERM, SIGINT)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Look at the backend now (SIGCHLD: a check finished)."""
        self._wake.set()

    # ------------------------------------------------------------------ applying

    def start(self) -> None:
        """Apply the config; when it is invalid, the copy applied before (ConfigError if none).

        Opens the state database the applied config names (for the heartbeat), and gives
        the backend the next runs the previous daemon recorded (for catch-up).
        """
        problems: list[Problem] = []
        try:
            accepted = self._accept(self._read(), self.settings.fallbacks, keep=True)
        except ConfigError as exc:
            problems = self._rejected(exc)
            if self.meta is None or self.meta.sha256 is None:
                raise
            copy, fallbacks = self.store.read(self.settings.config)
            accepted = self._accept(copy, fallbacks, keep=False)
            self.store.save_timetable(accepted.timetable)  # what runs now, on this host
        recorded = self._open_state(accepted.loaded.settings.state_db)
        self._install(accepted, recorded)
        if problems:
            self._report_rejection()

    def reload(self, forced: bool = True) -> ReloadResult:
        """Re-read the file; apply it when valid, and say how that ended."""
        self.notifier.reloading()
        if self.ack is not None:
            self.ack.begin()
        result = self._reload(self._read(), forced)
        self.line = self._status_line()
        log.info("reload %s: %s", result, self.line)
        self.notifier.ready(self.line)
        if self.ack is not None:
            self.ack.finish(f"{result} {self.line}")
        self._next_beat = 0.0  # beat now: the new config and its next runs
        return result

    def _reload(self, data: bytes | list[Problem], forced: bool) -> ReloadResult:
        try:
            if not forced and self._seen(data):
                return ReloadResult.UNCHANGED
            accepted = self._accept(data, self.settings.fallbacks, keep=True)
            self._install(accepted, {})
        except ConfigError as exc:
            self._rejected(exc)
            return ReloadResult.REJECTED
        except (SystemdError, StateDBError) as exc:  # systemctl, or the applied copy's folder
            self.failure = str(exc)
            self._retry_at = time.monotonic() + RETRY_S
            log.error("cannot apply the config (retrying in %gs): %s", RETRY_S, exc)
            return ReloadResult.FAILED
        return ReloadResult.APPLIED

    def _read(self) -> bytes | list[Problem]:
        try:
            return read_config(self.settings.config)
        except ConfigError as exc:
            return exc.problems

    def _seen(self, data: bytes | list[Problem]) -> bool:
        """True when `data` is what is applied or what was last rejected (the store says).

        The applied bytes put back after a rejected edit are valid again: the rejection is
        cleared (the status line, /health and `status` stop saying "config invalid")."""
        meta = self.meta = self.store.meta()
        if meta is None or isinstance(data, list):
            return False
        sha = sha256(data)
        if sha == meta.sha256 and meta.fallbacks == self.settings.fallbacks:
            if meta.rejected is not None:
                self.meta = self.store.clear_rejection()
                log.info("the file is the applied config again: the rejected edit is cleared")
            return True
        return meta.rejected is not None and meta.rejected.sha256 == sha

    def _accept(self, data: bytes | list[Problem], fallbacks: Fallbacks, *, keep: bool) -> Accepted:
        """Validate (and with `keep` record) `data`, with its timetable: the shared apply
        step's first half. A broken alert keeps the entry it had (it goes on running)."""
        from sqlsentinel.applied.accept import accept

        config = self.settings.config
        if isinstance(data, list):  # the file cannot be read
            if keep:
                self.store.reject(None, config, data, self.clock())
            raise ConfigError(data)
        accepted = accept(
            data, config, self.store, self.backend.launch,
            environ=self.settings.environ, fallbacks=fallbacks, keep=keep,
            previous=self.applied.timetable if self.applied else None,
        )  # fmt: skip
        self.meta = accepted.meta
        for w in accepted.loaded.warnings:
            log.warning("config: %s", w)
        for p in accepted.loaded.broken_problems():
            log.error("alert not scheduled: %s", p)
        return accepted

    def _rejected(self, exc: ConfigError) -> list[Problem]:
        for p in exc.problems:
            log.error("config invalid: %s", p)
        self.meta = self.store.meta()  # with the rejection just recorded
        self._report_rejection()
        return exc.problems

    def _install(self, accepted: Accepted, recorded: Mapping[str, datetime]) -> None:
        now = self.clock()
        applied = Applied.of(accepted, self.store)
        summary = self.backend.install(applied, now, recorded)
        self.applied, self.failure = applied, None
        if self.stale_watch is not None:
            self.stale_watch.update(applied.loaded, applied.timetable)
        log.info("config applied sha256=%s %s", applied.meta.sha256, summary)
        env = self.settings.environ
        url = resolve_state_url(self.settings.state_db, applied.loaded.settings.state_db, env)
        if self.db is not None and url != self.db.url:
            log.warning("the config now names another state database: restart to record there")

    def _open_state(self, configured: str | None) -> dict[str, datetime]:
        """Open the state database; the next runs a previous daemon of this config recorded."""
        url = resolve_state_url(self.settings.state_db, configured, self.settings.environ)
        try:
            self.db = StateDB(url)
            found = read_daemon_status(self.db, self.settings.config)
        except SentinelError as exc:
            log.error("state database: %s (the heartbeat is not recorded)", exc)
            return {}
        self.recorder = StateRecorder(self.db)
        self.recorder.start()
        self.stale_watch = StaleWatch(url, self.clock)
        self.stale_watch.start()
        return {a: t for d in found for a, t in d.next_runs.items() if t is not None}

    def _report_rejection(self) -> None:
        self.line = self._status_line()
        self.notifier.status(self.line)

    def _status_line(self, runs: dict[str, datetime | None] | None = None) -> str:
        meta = self.meta
        applied_at = self.applied.meta.applied_at if self.applied else None
        if self.failure is not None:
            return status.failed_line(self.failure, applied_at)
        if meta is not None and meta.rejected is not None:
            return status.invalid_line(meta.rejected, applied_at)
        if runs is None:
            runs = self.backend.next_runs(self.clock())
        broken = self.applied.loaded.broken if self.applied else {}
        first = {name: problems[0].message for name, problems in broken.items() if problems}
        return status.scheduled_line(runs, self.backend.running(), first, self.backend.stopped())

    # ------------------------------------------------------------------ the loop

    def run(self) -> int:
        """Loop until `stop()`; then shut down and return the exit code (0)."""
        self.line = self._status_line()
        self.notifier.ready(self.line)
        log.info("ready: %s", self.line)
        while not self._stop.is_set():
            self._wake.wait(self.step())
            self._wake.clear()
        self._shutdown()
        return 0

    def step(self) -> float:
        """One turn of the loop; returns how long to sleep before the next."""
        mono, now = time.monotonic(), self.clock()
        self.loop_at = mono
        if self._reload_requested:
            self._reload_requested = False
            self.reload(forced=True)
        elif self._watch is not None and self._watch.poll(mono):
            self.reload(forced=False)
        elif self.failure is not None and mono >= self._retry_at:
            self.reload(forced=True)
        wake, fired = self.backend.step(now)
        if fired or mono >= self._next_beat:
            self._beat(now)
            self._next_beat = mono + HEARTBEAT_S
        if self.notifier.watchdog_s and mono >= self._next_ping:
            self.notifier.watchdog()
            self._next_ping = mono + self.notifier.watchdog_s
        return self._sleep(mono, now, wake)

    def _sleep(self, mono: float, now: datetime, wake: datetime | None) -> float:
        until = [MAX_SLEEP_S, self._next_beat - mono]
        if self._watch is not None:
            until.append(POLL_S)
        if self.notifier.watchdog_s:
            until.append(self._next_ping - mono)
        if wake is not None:
            until.append((wake - now).total_seconds())
        return max(0.0, min(until))

    def _beat(self, now: datetime, stopped: bool = False) -> None:
        """Refresh the status line; record the heartbeat and the next runs."""
        runs = self.backend.next_runs(now)
        if not stopped:
            line = self._status_line(runs)
            if line != self.line:
                self.line = line
                self.notifier.status(line)
        if self.recorder is None:
            return
        meta = self.applied.meta if self.applied else None
        beat = Heartbeat(
            config=self.settings.config,
            pid=os.getpid(),
            host=socket.gethostname(),
            backend=self.backend.name,
            started_at=self.started_at,
            beat_at=now,
            interval_s=HEARTBEAT_S,
            status=self.line,
            applied_sha256=meta.sha256 if meta else None,
            applied_at=meta.applied_at if meta else None,
            stopped_at=now if stopped else None,
        )
        if stopped:
            self.recorder.close(beat, timeout=0.8)
        else:
            self.recorder.submit(beat, runs)

    def _shutdown(self) -> None:
        self.notifier.stopping()
        log.info("stopping")
        self.backend.stop()
        if self.stale_watch is not None:
            self.stale_watch.close(timeout=0.5)
        self.line = "stopped"
        self._beat(self.clock(), stopped=True)
        if self.ack is not None:
            self.ack.remove()

    # ------------------------------------------------------------------ probes

    def health(self) -> tuple[bool, str]:
        """Is the scheduling loop alive? (GET /health)"""
        late = time.monotonic() - self.loop_at
        if self._stop.is_set() or late > STALL_S:
            return False, f"the loop has not run for {late:.0f}s"
        return True, self.line

    def ready(self) -> tuple[bool, str]:
        """Is a config applied, and can runs record their results? (GET /ready)

        The state database is asked on a new connection, as a run would open it (the
        daemon's own may still see a file that was replaced or truncated since), for a
        schema that runs can use, and the latest checks' exit codes count too."""
        if self.applied is None:
            return False, "no config applied"
        if self.db is None:
            return False, "no state database"
        why = self.backend.cannot_record()
        if why is not None:
            return False, why
        probe = StateDB(self.db.url, lock_wait=READY_WAIT_S)
        try:
            version = probe.schema_version()
        except SentinelError as exc:
            return False, str(exc)
        finally:
            probe.close()
        if version > SCHEMA_VERSION:  # a missing or older schema, runs create or upgrade
            return False, f"the state database has schema v{version}, newer than v{SCHEMA_VERSION}"
        return True, self.line

    def metrics(self) -> str:
        """The state database as Prometheus text (GET /metrics)."""
        from sqlsentinel.state.metrics import metrics_text

        if self.db is None:
            raise SentinelError("no state database")
        now = self.clock()
        alerts = self.applied.loaded.alerts if self.applied else ()
        text = metrics_text(self.db, now, {a.name: a.max_instances for a in alerts})
        if self.stale_watch is None:
            return text
        from sqlsentinel.applied.staleness import staleness_metrics

        return text + staleness_metrics(self.stale_watch.report(now))
