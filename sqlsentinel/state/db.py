"""Open the state database (SQLite or PostgreSQL, DB-API), serialise writers, manage the schema.

SQLite runs in WAL mode, and every write transaction starts with BEGIN IMMEDIATE, so
concurrent runs queue for the write lock (for as long as the caller's deadline allows)
instead of failing with "database is locked". PostgreSQL writers lock the rows they
change, and an advisory lock guards schema changes. SQL is written once with `?`
placeholders; `Tx` adapts placeholders, instants and booleans to the dialect.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlsentinel.dburl import POSTGRESQL, SQLITE, UrlError, parse_url
from sqlsentinel.errors import StateDBError
from sqlsentinel.redaction import redact
from sqlsentinel.state.schema import (
    BOOLEAN_COLUMNS,
    DATETIME_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    statements,
)

BUSY_TIMEOUT_S = 60.0  # how long a writer waits for the lock when the caller gives no deadline
WAL_SWITCH_S = 5.0  # how long a new connection waits to switch a new database to WAL
_PG_SCHEMA_LOCK = 0x5351_4C53  # advisory lock key for schema changes
_SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"  # UTC, as SQLAlchemy stored it in earlier releases
_SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")  # SQLite's own files beside the database


class Tx:
    """One open transaction (or read) on the state database."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._cursor = cursor
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        self._cursor.execute(*self._prepare(sql, params))
        return int(self._cursor.rowcount)

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each of `rows` (batched by the driver)."""
        if rows:
            prepared = [self._prepare(sql, r) for r in rows]
            self._cursor.executemany(prepared[0][0], [p for _, p in prepared])

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row of a query, as dicts with instants and booleans in Python form."""
        self._cursor.execute(*self._prepare(sql, params))
        names = [d[0] for d in self._cursor.description]
        return [self._row(names, r) for r in self._cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row of a query, or None."""
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.one(sql, params)
        return next(iter(row.values())) if row else None

    def _prepare(self, sql: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
        if self.dialect == POSTGRESQL:
            return sql.replace("?", "%s"), list(params)
        return sql, [_to_sqlite(p) for p in params]

    def _row(self, names: list[str], values: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(names, values, strict=True))
        if self.dialect == SQLITE:
            for name in DATETIME_COLUMNS.intersection(row):
                row[name] = _from_sqlite(row[name])
            for name in BOOLEAN_COLUMNS.intersection(row):
                row[name] = None if row[name] is None else bool(row[name])
        return row


def _to_sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(_SQLITE_TS)
    return value


def _from_sqlite(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class StateDB:
    """An open state database: one connection per process, used one transaction at a time."""

    def __init__(self, url: str, *, lock_wait: float | None = None) -> None:
        self.url = url
        self.lock_wait = WAL_SWITCH_S if lock_wait is None else lock_wait
        try:
            self._url = parse_url(url)
        except UrlError as exc:
            raise StateDBError(f"cannot open state database {redact(url)}: {exc}") from None
        if self._url.backend not in (SQLITE, POSTGRESQL):
            raise StateDBError(
                f"cannot open state database {redact(url)}: the state database must be "
                f"SQLite or PostgreSQL, not {self._url.backend!r}"
            )
        self.dialect = self._url.backend
        self.sqlite_path = self._url.sqlite_file
        self._conn: Any = None
        self._lock = threading.RLock()
        self._schema_current = False  # ensure_schema checked it once in this process

    @property
    def identity(self) -> str:
        """Which database this is, without its password: a SQLite file's real path, or the URL
        redacted."""
        if self.sqlite_path is not None:
            return f"sqlite:///{os.path.realpath(self.sqlite_path)}"
        return redact(self.url)

    @property
    def is_sqlite(self) -> bool:
        """True for a SQLite state database."""
        return self.dialect == SQLITE

    @contextmanager
    def write(self, deadline: float | None = None) -> Iterator[Tx]:
        """A transaction holding the write lock (SQLite) until it commits.

        `deadline` (monotonic) bounds the wait for the lock and for a connection.
        """
        with self._lock, self._failures("state database"):
            conn = self._connection(create=True, deadline=deadline)
            cursor = conn.cursor()
            if self.is_sqlite:  # psycopg opens a transaction by itself
                _sqlite_wait(conn, deadline)
                cursor.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(cursor, self.dialect)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def close(self) -> None:
        """Close the connection (a later use opens a new one)."""
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A plain read (no lock held beyond the statements themselves)."""
        with self._lock, self._failures("state database"):
            conn = self._connection(create=False, deadline=None)
            cursor = conn.cursor()
            try:
                yield Tx(cursor, self.dialect)
            finally:
                conn.rollback()

    def schema_version(self) -> int:
        """The schema version found (0 for an empty or not yet created database)."""
        if self.sqlite_path is not None and not self.sqlite_path.exists():
            return 0  # reading never creates the file
        with self._lock, self._failures("cannot open state database"):
            conn = self._connection(create=False, deadline=None)
            try:
                return _version_in(Tx(conn.cursor(), self.dialect))
            finally:
                conn.rollback()

    def ensure_schema(self, deadline: float | None = None) -> tuple[int, int]:
        """Create or upgrade the schema; safe when many processes do it at once.

        Returns (version before, version after).
        """
        if self._schema_current:
            return SCHEMA_VERSION, SCHEMA_VERSION
        before = self.schema_version()
        if before == SCHEMA_VERSION:
            self._schema_current = True
            return before, before
        if before > SCHEMA_VERSION:
            raise StateDBError(
                f"state database {redact(self.url)} has schema v{before}, newer than this "
                f"sqlsentinel understands (v{SCHEMA_VERSION}); upgrade sqlsentinel"
            )
        with self.write(deadline) as tx:
            if not self.is_sqlite:
                tx.execute(f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")
            current = _version_in(tx)
            for migration in MIGRATIONS[current:]:
                for sql in statements(migration, self.dialect):
                    tx.execute(sql)
            if current < SCHEMA_VERSION:
                tx.execute('DELETE FROM sqlsentinel_schema WHERE "key" = ?', ("version",))
                tx.execute(
                    'INSERT INTO sqlsentinel_schema ("key", value) VALUES (?, ?)',
                    ("version", str(SCHEMA_VERSION)),
                )
        self._schema_current = True
        return before, SCHEMA_VERSION

    def _connection(self, *, create: bool, deadline: float | None) -> Any:
        if self._conn is None:
            if self.is_sqlite:
                self._conn = _open_sqlite(
                    self._url.database or "", self.sqlite_path, create, self.lock_wait
                )
            else:
                self._conn = _open_postgresql(self._url.psycopg_args(), deadline)
        return self._conn

    @contextmanager
    def _failures(self, what: str) -> Iterator[None]:
        """Driver errors become one clear StateDBError line (the password redacted)."""
        try:
            yield
        except StateDBError:
            raise
        except (OSError, ValueError) as exc:
            raise StateDBError(f"{what} {redact(self.url)}: {_reason(exc)}") from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in {"sqlite3", "psycopg"}:
                raise
            if getattr(self._conn, "broken", False) or getattr(self._conn, "closed", False):
                self._conn = None  # PostgreSQL went away: reconnect next time
            raise StateDBError(f"{what} {redact(self.url)}: {_reason(exc)}") from None


def _sqlite_wait(conn: Any, deadline: float | None) -> None:
    """Wait for the write lock until `deadline` (or BUSY_TIMEOUT_S)."""
    wait = BUSY_TIMEOUT_S if deadline is None else max(0.05, deadline - time.monotonic())
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")


def _open_sqlite(database: str, path: Path | None, create: bool, lock_wait: float) -> Any:
    """Connect; a file is opened `mode=rw`, so reading never creates one. Root never opens
    one through a link in a folder another user controls (sqlsentinel/safedir.py)."""
    import sqlite3
    from urllib.parse import quote

    expected = None
    if path is not None and os.geteuid() == 0:
        from sqlsentinel.safedir import UnsafePath, prepare_file

        try:
            expected = prepare_file(path, create=create, siblings=_SQLITE_SIBLINGS)
        except UnsafePath:
            raise
        except StateDBError as exc:  # its folder cannot be opened or created
            raise StateDBError(f"state database {path}: {exc}") from None
    elif path is not None and create and not path.exists():
        _create_private(path)
    target = f"file:{quote(str(path))}?mode=rw" if path is not None else database
    conn = sqlite3.connect(
        target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False, uri=True
    )
    if expected is not None:
        _same_file(conn, path, expected)
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        _to_wal(conn, path, lock_wait)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _to_wal(conn: Any, path: Path | None, lock_wait: float) -> None:
    """Switch a new database to WAL, waiting at most `lock_wait` s for the lock it needs: a
    file that was truncated or replaced under a process that still has it open would hold
    it back for as long as that process lives."""
    conn.execute(f"PRAGMA busy_timeout = {int(lock_wait * 1000)}")
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    except Exception as exc:
        conn.close()
        empty = path is not None and path.exists() and path.stat().st_size == 0
        if not empty:
            raise
        raise StateDBError(
            f"state database {path} is empty (0 bytes) while another process has it open: it "
            "was truncated or replaced; restore it, or remove it (with its -wal and -shm) and "
            f"restart the daemon ({_reason(exc)})"
        ) from None
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")


def _same_file(conn: Any, path: Path | None, expected: str) -> None:
    """Before any statement: SQLite resolved no link on the way to `expected`."""
    opened = conn.execute("PRAGMA database_list").fetchone()[2]
    if opened != expected:
        conn.close()
        from sqlsentinel.safedir import UnsafePath

        raise UnsafePath(f"refusing {path}: SQLite reached {opened} (a link was swapped in)")


def _create_private(path: Path) -> None:
    """Create the SQLite file 0600 (in 0700 folders we create)."""
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for folder in missing:
        folder.mkdir(mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _open_postgresql(args: dict[str, Any], deadline: float | None) -> Any:
    import psycopg

    timeout = 10 if deadline is None else max(1, int(deadline - time.monotonic()))
    attempt = 0
    while True:
        try:
            return psycopg.connect(connect_timeout=timeout, **args)
        except psycopg.OperationalError as exc:
            attempt += 1
            if not _transient(exc) or deadline is None or time.monotonic() + 0.5 > deadline:
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt))


def _transient(exc: Exception) -> bool:
    """Connection failures worth retrying within the deadline (server busy or starting)."""
    text = str(exc).lower()
    return any(s in text for s in ("too many clients", "starting up", "remaining connection slots"))


def _version_in(tx: Tx) -> int:
    if tx.dialect == SQLITE:
        exists = tx.scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
            ("sqlsentinel_schema",),
        )
    else:
        exists = tx.scalar(  # a plain scan: it sees tables committed while we waited for a lock
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_name = ? AND table_schema = current_schema()",
            ("sqlsentinel_schema",),
        )
    if not exists:
        return 0
    value = tx.scalar('SELECT value FROM sqlsentinel_schema WHERE "key" = ?', ("version",))
    try:
        return int(value or 0)
    except ValueError:
        raise StateDBError(
            f"the state database's schema version {value!r} is not a number; "
            "it was not written by sqlsentinel (or was edited by hand)"
        ) from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
