"""Open the state database, serialise writers, and create or upgrade the schema.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts
with BEGIN IMMEDIATE, so concurrent runs queue for the write lock instead of
failing with "database is locked". PostgreSQL writers lock the rows they change
(and an advisory lock guards schema changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, select
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from sqlsentinel.dburl import normalise
from sqlsentinel.errors import StateDBError
from sqlsentinel.redaction import redact
from sqlsentinel.state.schema import MIGRATIONS, SCHEMA_VERSION, schema_info

BUSY_TIMEOUT_S = 60.0
_PG_SCHEMA_LOCK = 0x5351_4C53  # advisory lock key for schema changes


class StateDB:
    """An open state database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite_path: Path | None = None  # the SQLite file, if the state lives in one
        try:
            parsed = normalise(url)
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    self.sqlite_path = Path(parsed.database)
                self.engine: Engine = create_engine(
                    parsed, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_S}
                )
                _sqlite_setup(self.engine)
            else:
                self.engine = create_engine(parsed, poolclass=NullPool)
        except (SQLAlchemyError, NoSuchModuleError, ValueError, OSError) as exc:
            raise StateDBError(
                f"cannot open state database {redact(url)}: {_reason(exc)}"
            ) from None
        self.is_sqlite = self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the write lock (SQLite) until it commits."""
        try:
            if self.sqlite_path is not None:
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            with self.engine.connect() as conn:
                conn.info["immediate"] = True
                with conn.begin():
                    yield conn
        except (DBAPIError, OSError) as exc:
            raise StateDBError(f"state database {redact(self.url)}: {_reason(exc)}") from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A plain read connection."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise StateDBError(f"state database {redact(self.url)}: {_reason(exc)}") from None

    def schema_version(self) -> int:
        """The schema version found (0 for an empty or not yet created database)."""
        if self.sqlite_path is not None and not self.sqlite_path.exists():
            return 0  # reading never creates the file
        try:
            with self.engine.connect() as conn:
                value = conn.execute(
                    select(schema_info.c.value).where(schema_info.c.key == "version")
                ).scalar()
        except DBAPIError as exc:
            if _is_missing_table(exc):
                return 0
            raise StateDBError(
                f"cannot open state database {redact(self.url)}: {_reason(exc)}"
            ) from None
        return int(value or 0)

    def ensure_schema(self) -> tuple[int, int]:
        """Create or upgrade the schema; safe when many processes do it at once.

        Returns (version before, version after).
        """
        before = self.schema_version()
        if before == SCHEMA_VERSION:
            return before, before
        if before > SCHEMA_VERSION:
            raise StateDBError(
                f"state database {redact(self.url)} has schema v{before}, newer than this "
                f"sqlsentinel understands (v{SCHEMA_VERSION}); upgrade sqlsentinel"
            )
        with self.write() as conn:
            if not self.is_sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")
            current = _version_in(conn)
            for migrate in MIGRATIONS[current:]:
                migrate(conn)
            if current < SCHEMA_VERSION:
                _set_version(conn, SCHEMA_VERSION)
        return before, SCHEMA_VERSION


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")


def upsert(
    conn: Connection, table: Table, values: dict[str, Any], update: dict[str, Any] | None
) -> Any:
    """INSERT … ON CONFLICT (primary key) DO UPDATE `update` (DO NOTHING when None)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    keys = [c.name for c in table.primary_key.columns]
    statement = insert(table).values(**values)
    if update is None:
        return statement.on_conflict_do_nothing(index_elements=keys)
    return statement.on_conflict_do_update(index_elements=keys, set_=update)


def _version_in(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, schema_info.name):
        return 0
    value = conn.execute(select(schema_info.c.value).where(schema_info.c.key == "version")).scalar()
    return int(value or 0)


def _set_version(conn: Connection, version: int) -> None:
    conn.execute(schema_info.delete().where(schema_info.c.key == "version"))
    conn.execute(schema_info.insert().values(key="version", value=str(version)))


def _is_missing_table(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()  # not 'database "x" does not exist', a connection failure
    return "no such table" in text or ('relation "' in text and "does not exist" in text)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__
