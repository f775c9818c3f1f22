"""The state database's tables, as SQL for SQLite and PostgreSQL, and their ordered migrations.

Migration N brings a database from schema N-1 to N; `{ts}` and `{serial}` are the
dialect's aware timestamp and auto-numbered key. Versions 1 and 2 are exactly the
tables earlier releases created (through SQLAlchemy), so their databases upgrade in place.
"""

from __future__ import annotations

from sqlsentinel.core.delivery import DeliveryOutcome, NotificationStatus

TYPES = {
    "sqlite": {"ts": "DATETIME", "serial": "INTEGER NOT NULL"},
    "postgresql": {"ts": "TIMESTAMP WITH TIME ZONE", "serial": "SERIAL NOT NULL"},
}
# Columns holding instants: SQLite stores them as UTC text, read back as aware datetimes.
DATETIME_COLUMNS = frozenset(
    {
        "since", "condition_since", "last_run_at", "last_notified_at", "updated_at",
        "scheduled_at", "launched_at", "started_at", "finished_at", "starts_at", "ends_at",
        "ended_at", "created_at", "claimed_until", "beat_at", "applied_at", "stopped_at",
        "next_run_at", "missed_tick", "detected_at", "notified_at", "recovered_at",
    }
)  # fmt: skip
BOOLEAN_COLUMNS = frozenset({"suppressed", "spooled"})

# The columns of a decided state, shared by an alert's row and an instance's (core.decide).
_DECIDED = """\
    state VARCHAR(16) NOT NULL,
    since {ts} NOT NULL,
    reason VARCHAR(64) NOT NULL,
    condition_since {ts},
"""
# The columns naming a notification and where it goes, shared by the outbox and its log.
_ADDRESSED = """\
    event_id VARCHAR(32) NOT NULL,
    alert VARCHAR(255) NOT NULL,
    channel VARCHAR(32) NOT NULL,
    target TEXT NOT NULL,
"""
_NOTIFIED = """\
    last_notified_at {ts},
    last_notified_state VARCHAR(16),
    suppressed BOOLEAN NOT NULL,
"""

_V1 = (
    """
CREATE TABLE sqlsentinel_schema (
    "key" VARCHAR(64) NOT NULL,
    value VARCHAR(255) NOT NULL,
    PRIMARY KEY ("key")
);
CREATE TABLE alert_state (
    alert VARCHAR(255) NOT NULL,
"""
    + _DECIDED
    + """    last_run_at {ts},
    last_outcome VARCHAR(32),
    last_value TEXT,
    last_threshold TEXT,
    last_error TEXT,
"""
    + _NOTIFIED
    + """    updated_at {ts} NOT NULL,
    PRIMARY KEY (alert)
);
CREATE TABLE history (
    id {serial},
    run_id VARCHAR(32) NOT NULL,
    alert VARCHAR(255) NOT NULL,
    triggered_by VARCHAR(16) NOT NULL,
    scheduled_at {ts},
    started_at {ts} NOT NULL,
    finished_at {ts} NOT NULL,
    duration_ms FLOAT NOT NULL,
    outcome VARCHAR(32) NOT NULL,
    state VARCHAR(16) NOT NULL,
    previous_state VARCHAR(16),
    transition VARCHAR(64) NOT NULL,
    actual_value TEXT,
    threshold TEXT,
    context TEXT,
    error TEXT,
    notified TEXT,
    PRIMARY KEY (id),
    UNIQUE (run_id)
);
CREATE INDEX ix_history_finished ON history (finished_at);
CREATE INDEX ix_history_alert_finished ON history (alert, finished_at);
CREATE TABLE silences (
    id {serial},
    alert VARCHAR(255) NOT NULL,
    starts_at {ts} NOT NULL,
    ends_at {ts} NOT NULL,
    reason TEXT NOT NULL,
    created_by VARCHAR(255) NOT NULL,
    ended_at {ts},
    PRIMARY KEY (id)
);
CREATE INDEX ix_silences_alert ON silences (alert);
"""
)

_V2 = (
    """
CREATE TABLE notifications (
"""
    + _ADDRESSED
    + """    target_index INTEGER NOT NULL,
    reason VARCHAR(32) NOT NULL,
    payload TEXT NOT NULL,
    status VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL,
    created_at {ts} NOT NULL,
    claimed_until {ts},
    finished_at {ts},
    last_error TEXT,
    run_id VARCHAR(32) NOT NULL,
    PRIMARY KEY (event_id)
);
CREATE INDEX ix_notifications_alert_status ON notifications (alert, status);
CREATE TABLE deliveries (
    id {serial},
"""
    + _ADDRESSED
    + """    attempt INTEGER NOT NULL,
    outcome VARCHAR(16) NOT NULL,
    status_code INTEGER,
    error_class VARCHAR(64),
    detail TEXT,
    latency_ms FLOAT NOT NULL,
    started_at {ts} NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_deliveries_event_id ON deliveries (event_id);
CREATE INDEX ix_deliveries_alert_started ON deliveries (alert, started_at);
"""
)

_V3 = """
ALTER TABLE history ADD COLUMN launched_at {ts};
ALTER TABLE history ADD COLUMN spooled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE notifications ADD COLUMN claimed_by VARCHAR(128);
"""

_V4 = """
CREATE TABLE daemon_heartbeat (
    config VARCHAR(1024) NOT NULL,
    pid INTEGER NOT NULL,
    host VARCHAR(255) NOT NULL,
    backend VARCHAR(16) NOT NULL,
    started_at {ts} NOT NULL,
    beat_at {ts} NOT NULL,
    interval_s FLOAT NOT NULL,
    status TEXT NOT NULL,
    applied_sha256 VARCHAR(64),
    applied_at {ts},
    stopped_at {ts},
    PRIMARY KEY (config)
);
CREATE TABLE daemon_next_run (
    config VARCHAR(1024) NOT NULL,
    alert VARCHAR(255) NOT NULL,
    next_run_at {ts},
    PRIMARY KEY (config, alert)
);
"""

_V5 = """
CREATE TABLE stale_episodes (
    episode_id VARCHAR(32) NOT NULL,
    alert VARCHAR(255) NOT NULL,
    missed_tick {ts} NOT NULL,
    last_run_at {ts},
    detected_at {ts} NOT NULL,
    notified_at {ts},
    recovered_at {ts},
    PRIMARY KEY (episode_id)
);
CREATE UNIQUE INDEX ux_stale_episodes_open ON stale_episodes (alert) WHERE recovered_at IS NULL;
"""

_V6 = (
    """
CREATE TABLE instance_state (
    alert VARCHAR(255) NOT NULL,
    instance_key TEXT NOT NULL,
    key_values TEXT NOT NULL,
"""
    + _DECIDED
    + _NOTIFIED
    + """    actual_value TEXT,
    threshold TEXT,
    context TEXT,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (alert, instance_key)
);
ALTER TABLE silences ADD COLUMN instance_key TEXT;
ALTER TABLE history ADD COLUMN instances TEXT;
"""
)

# Counters only grow (state/counters.py): each is bumped in the transaction that writes the
# row it counts, and seeded here from the rows history, the outbox and the delivery log keep.
_V7 = f"""
CREATE TABLE metric_counters (
    metric VARCHAR(32) NOT NULL,
    alert VARCHAR(255) NOT NULL,
    channel VARCHAR(32) NOT NULL,
    outcome VARCHAR(32) NOT NULL,
    total BIGINT NOT NULL,
    PRIMARY KEY (metric, alert, channel, outcome)
);
INSERT INTO metric_counters (metric, alert, channel, outcome, total)
    SELECT 'runs', alert, '', outcome, count(*) FROM history GROUP BY alert, outcome;
INSERT INTO metric_counters (metric, alert, channel, outcome, total)
    SELECT 'notifications', alert, channel, status, count(*) FROM notifications
    WHERE status <> '{NotificationStatus.PENDING}' GROUP BY alert, channel, status;
INSERT INTO metric_counters (metric, alert, channel, outcome, total)
    SELECT 'attempts', alert, channel, outcome, count(*) FROM deliveries
    WHERE outcome <> '{DeliveryOutcome.SENDING}' GROUP BY alert, channel, outcome;
"""

_V8 = """
ALTER TABLE alert_state ADD COLUMN severity VARCHAR(16);
ALTER TABLE alert_state ADD COLUMN last_notified_severity VARCHAR(16);
ALTER TABLE instance_state ADD COLUMN severity VARCHAR(16);
ALTER TABLE instance_state ADD COLUMN last_notified_severity VARCHAR(16);
ALTER TABLE history ADD COLUMN severity VARCHAR(16);
"""

_V9 = """
ALTER TABLE deliveries ADD COLUMN retry_after FLOAT;
ALTER TABLE deliveries ADD COLUMN reference VARCHAR(255);
ALTER TABLE deliveries ADD COLUMN excerpt TEXT;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9)
"""v1: state, history, silences. v2: the outbox and the delivery log. v3: when the process
was launched, runs recorded late from the spool, and who holds an outbox claim. v4: the
daemon's heartbeat (one row per config it runs) and each alert's next planned run. v5: stale
episodes (an alert missed a scheduled run; at most one open per alert). v6: the state of
each instance of a keyed alert, silences of one instance, each run's instance summary. v7:
the Prometheus counters (runs, finished notifications, delivery attempts), which pruning
never lowers. v8: the severity of each alert, instance and run, and of the last
notification of each. v9: what each delivery attempt's receiver answered: its retry-after,
its reference (dedup key, request or message id) and the start of its body."""
SCHEMA_VERSION = len(MIGRATIONS)
DAEMON_TABLES_SINCE = 4  # the schema version that added the daemon's tables
INSTANCE_TABLES_SINCE = MIGRATIONS.index(_V6) + 1  # instance_state, silences.instance_key
COUNTERS_SINCE = MIGRATIONS.index(_V7) + 1  # metric_counters


def statements(migration: str, dialect: str) -> list[str]:
    """The SQL statements of one migration for `dialect`."""
    sql = migration.format(**TYPES[dialect])
    return [s.strip() for s in sql.split(";") if s.strip()]
