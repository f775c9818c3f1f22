"""What the daemon leaves in the state database for others to read: a heartbeat per config
and each alert's next planned run. All daemon state-database access is here.

A daemon writes its row every `interval_s`; a reader calls the daemon stale when the
row is older than `STALE_AFTER_BEATS` intervals and the daemon did not stop cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from sqlsentinel.state.db import StateDB, upsert
from sqlsentinel.state.schema import DAEMON_TABLES_SINCE, daemon_heartbeat, daemon_next_run

STALE_AFTER_BEATS = 3


@dataclass(frozen=True)
class Heartbeat:
    """One daemon's latest sign of life."""

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
    with db.write() as conn:
        conn.execute(upsert(conn, daemon_heartbeat, values, values))


def record_next_runs(db: StateDB, config: str, runs: Mapping[str, datetime | None]) -> None:
    """Replace the next planned runs of `config`'s alerts with `runs`."""
    with db.write() as conn:
        conn.execute(daemon_next_run.delete().where(daemon_next_run.c.config == config))
        if runs:
            conn.execute(
                daemon_next_run.insert(),
                [{"config": config, "alert": a, "next_run_at": t} for a, t in runs.items()],
            )


def read_daemon_status(db: StateDB, config: str | None = None) -> list[DaemonStatus]:
    """Every daemon recorded (only `config`'s when given); none before the schema exists."""
    if db.schema_version() < DAEMON_TABLES_SINCE:
        return []
    beats = select(daemon_heartbeat).order_by(daemon_heartbeat.c.config)
    runs = select(daemon_next_run)
    if config is not None:
        beats = beats.where(daemon_heartbeat.c.config == config)
        runs = runs.where(daemon_next_run.c.config == config)
    with db.read() as conn:
        found = [DaemonStatus(Heartbeat(**dict(r))) for r in conn.execute(beats).mappings()]
        by_config = {d.beat.config: d for d in found}
        for r in conn.execute(runs).mappings():
            if r["config"] in by_config:
                by_config[r["config"]].next_runs[r["alert"]] = r["next_run_at"]
    return found
