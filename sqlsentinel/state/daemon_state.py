"""What the daemon leaves in the state database for others to read: a heartbeat per config
and each alert's next planned run. All daemon state-database access is here.

A daemon writes its row every `interval_s`; a reader calls the daemon stale when the
row is older than `STALE_AFTER_BEATS` intervals and the daemon did not stop cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta

from sqlsentinel.state.db import StateDB
from sqlsentinel.state.schema import DAEMON_TABLES_SINCE

STALE_AFTER_BEATS = 3


@dataclass(frozen=True, kw_only=True)
class Heartbeat:
    """One daemon's latest sign of life (built by keyword)."""

    config: str  # absolute path of the config it runs
    pid: int
    host: str
    backend: str  # "systemd" or "local"
    started_at: datetime
    beat_at: datetime
    interval_s: float
    status: str  # the line it shows in systemd's STATUS=
    applied_sha256: str | None = None
    applied_at: datetime | None = None
    stopped_at: datetime | None = None  # a clean stop


_COLUMNS = tuple(f.name for f in fields(Heartbeat))


@dataclass(frozen=True)
class DaemonStatus:
    """A daemon's heartbeat and the next planned run of each of its alerts."""

    beat: Heartbeat
    next_runs: dict[str, datetime | None] = field(default_factory=dict)

    def stale(self, now: datetime) -> bool:
        """True when the daemon should be running but has not beaten for too long."""
        limit = timedelta(seconds=self.beat.interval_s * STALE_AFTER_BEATS)
        return self.beat.stopped_at is None and now - self.beat.beat_at > limit

    def running(self, now: datetime) -> bool:
        """True while the daemon beats."""
        return self.beat.stopped_at is None and not self.stale(now)


def record_heartbeat(db: StateDB, beat: Heartbeat) -> None:
    """Write (or replace) the heartbeat of `beat.config`."""
    values = asdict(beat)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "config")
    marks = ", ".join("?" for _ in _COLUMNS)
    with db.write() as tx:
        tx.execute(
            f"INSERT INTO daemon_heartbeat ({', '.join(_COLUMNS)}) VALUES ({marks}) "
            f"ON CONFLICT (config) DO UPDATE SET {updates}",
            [values[c] for c in _COLUMNS],
        )


def record_next_runs(db: StateDB, config: str, runs: Mapping[str, datetime | None]) -> None:
    """Replace the next planned runs of `config`'s alerts with `runs`."""
    with db.write() as tx:
        tx.execute("DELETE FROM daemon_next_run WHERE config = ?", (config,))
        for alert, at in runs.items():
            tx.execute(
                "INSERT INTO daemon_next_run (config, alert, next_run_at) VALUES (?, ?, ?)",
                (config, alert, at),
            )


def read_daemon_status(db: StateDB, config: str | None = None) -> list[DaemonStatus]:
    """Every daemon recorded (only `config`'s when given); none before the schema exists."""
    if db.schema_version() < DAEMON_TABLES_SINCE:
        return []
    where, params = (" WHERE config = ?", (config,)) if config is not None else ("", ())
    with db.read() as tx:
        beats = tx.all(f"SELECT * FROM daemon_heartbeat{where} ORDER BY config", params)
        runs = tx.all(f"SELECT * FROM daemon_next_run{where}", params)
    found = [DaemonStatus(Heartbeat(**{c: r[c] for c in _COLUMNS})) for r in beats]
    by_config = {d.beat.config: d for d in found}
    for r in runs:
        if r["config"] in by_config:
            by_config[r["config"]].next_runs[r["alert"]] = r["next_run_at"]
    return found
