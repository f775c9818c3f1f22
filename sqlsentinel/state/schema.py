"""Tables (SQLAlchemy Core) and the ordered list of schema migrations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()
TZ = UTCDateTime()

schema_info = Table(
    "sqlsentinel_schema",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

alert_state = Table(
    "alert_state",
    metadata,
    Column("alert", String(255), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("since", TZ, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("condition_since", TZ),
    Column("last_run_at", TZ),
    Column("last_outcome", String(32)),
    Column("last_value", Text),  # JSON
    Column("last_threshold", Text),  # JSON
    Column("last_error", Text),
    Column("last_notified_at", TZ),
    Column("last_notified_state", String(16)),
    Column("suppressed", Boolean, nullable=False, default=False),  # a notification was silenced
    Column("updated_at", TZ, nullable=False),
)

history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False, unique=True),
    Column("alert", String(255), nullable=False),
    Column("triggered_by", String(16), nullable=False),
    Column("scheduled_at", TZ),
    Column("started_at", TZ, nullable=False),
    Column("finished_at", TZ, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("previous_state", String(16)),
    Column("transition", String(64), nullable=False),
    Column("actual_value", Text),  # JSON
    Column("threshold", Text),  # JSON
    Column("context", Text),  # JSON object
    Column("error", Text),
    Column("notified", Text),  # JSON list: [{event_id, channel, target, reason, outcome}]
    Index("ix_history_alert_finished", "alert", "finished_at"),
    Index("ix_history_finished", "finished_at"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert", String(255), nullable=False, index=True),
    Column("starts_at", TZ, nullable=False),
    Column("ends_at", TZ, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("ended_at", TZ),  # set by unsilence
)

notifications = Table(
    "notifications",
    metadata,
    Column("event_id", String(32), primary_key=True),
    Column("alert", String(255), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("target", Text, nullable=False),  # redacted description, matches the config target
    Column("target_index", Integer, nullable=False),  # position in the alert's notify list
    Column("reason", String(32), nullable=False),
    Column("payload", Text, nullable=False),  # JSON of the event
    Column("status", String(16), nullable=False),  # pending | delivered | failed | abandoned
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", TZ, nullable=False),
    Column("claimed_until", TZ),
    Column("finished_at", TZ),
    Column("last_error", Text),
    Column("run_id", String(32), nullable=False),
    Index("ix_notifications_alert_status", "alert", "status"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(32), nullable=False, index=True),
    Column("alert", String(255), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("target", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer),
    Column("error_class", String(64)),
    Column("detail", Text),
    Column("latency_ms", Float, nullable=False),
    Column("started_at", TZ, nullable=False),
    Index("ix_deliveries_alert_started", "alert", "started_at"),
)


daemon_heartbeat = Table(
    "daemon_heartbeat",
    metadata,
    Column("config", String(1024), primary_key=True),  # absolute path of the daemon's CONFIG
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("backend", String(16), nullable=False),  # systemd | local
    Column("started_at", TZ, nullable=False),
    Column("beat_at", TZ, nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("status", Text, nullable=False),  # the STATUS= line
    Column("applied_sha256", String(64)),
    Column("applied_at", TZ),
    Column("stopped_at", TZ),  # set by a clean stop
)

daemon_next_run = Table(
    "daemon_next_run",
    metadata,
    Column("config", String(1024), primary_key=True),
    Column("alert", String(255), primary_key=True),
    Column("next_run_at", TZ),
)


def _v1(conn: Connection) -> None:
    """Alert state, run history and silences."""
    metadata.create_all(conn, tables=[schema_info, alert_state, history, silences])


def _v2(conn: Connection) -> None:
    """The notification outbox and the per-attempt delivery log."""
    metadata.create_all(conn, tables=[notifications, deliveries])


def _v3(conn: Connection) -> None:
    """The daemon's heartbeat and each alert's next planned run."""
    metadata.create_all(conn, tables=[daemon_heartbeat, daemon_next_run])


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3]
SCHEMA_VERSION = len(MIGRATIONS)
DAEMON_TABLES_SINCE = MIGRATIONS.index(_v3) + 1  # the schema version that added them
