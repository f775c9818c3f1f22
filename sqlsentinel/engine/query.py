"""Run an alert's query on its database and read the result contract.

The contract: one row with a `status` column (ALERT/OK, any case; the column
name in any case), optional `actual_value` and `threshold`, every other column is
context. Every way this can go wrong is a named outcome, never an exception.

Timeouts: PostgreSQL gets `statement_timeout`, SQLite a progress handler; on
every driver a watchdog cancels the statement at the deadline and, if the driver
still does not return, abandons it so the run ends anyway (`hung` is then set and
the process must exit without waiting for that thread).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlsentinel.core.budget import QUERY_GRACE_S
from sqlsentinel.core.spec import DatabaseSpec


@dataclass(frozen=True)
class QueryResult:
    """What the query said, as one named outcome."""

    outcome: str  # one of core.outcomes.ALL_OUTCOMES
    actual_value: Any = None
    threshold: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    hung: bool = False


def run_query(db: DatabaseSpec, sql: str, timeout: float) -> QueryResult:
    """Run `sql` with a hard deadline of `timeout` seconds."""
    worker = _Worker(db, sql, timeout)
    thread = threading.Thread(target=worker.run, name="sqlsentinel-query", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        worker.cancel()
        thread.join(QUERY_GRACE_S)
        if thread.is_alive():
            return QueryResult("timeout", error=_timeout_text(timeout), hung=True)
        return QueryResult("timeout", error=_timeout_text(timeout))
    assert worker.result is not None
    return worker.result


def _timeout_text(timeout: float) -> str:
    return f"query did not finish within its timeout of {timeout:g}s"


class _Worker:
    def __init__(self, db: DatabaseSpec, sql: str, timeout: float) -> None:
        self.db, self.sql, self.timeout = db, sql, timeout
        self.result: QueryResult | None = None
        self._dbapi: Any = None
        self._deadline = time.monotonic() + timeout

    def cancel(self) -> None:
        conn = self._dbapi
        for method in ("interrupt", "cancel"):  # sqlite3 / psycopg, psycopg2, asyncpg-likes
            fn = getattr(conn, method, None)
            if callable(fn):
                # the driver may already be closing; there is nothing more to do then
                with contextlib.suppress(Exception):
                    fn()
                return

    def run(self) -> None:
        try:
            self.result = self._run()
        except Exception as exc:  # any driver/SQLAlchemy failure becomes a named outcome
            self.result = _failure(exc, self._deadline)

    def _run(self) -> QueryResult:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import NoSuchModuleError
        from sqlalchemy.pool import NullPool

        from sqlsentinel.dburl import normalise

        url = normalise(self.db.url)
        backend = url.get_backend_name()
        connect_args: dict[str, Any] = {}
        if backend == "postgresql":
            connect_args["connect_timeout"] = max(1, math.ceil(self.timeout))
        elif backend == "sqlite":
            connect_args["timeout"] = self.timeout
            path = url.database or ""
            in_file = path not in {"", ":memory:"} and not path.startswith("file:")
            if in_file and not Path(path).is_file():
                return QueryResult("connection_error", error=f"no SQLite database at {path}")
        try:
            engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        except ImportError as exc:
            return QueryResult(
                "connection_error",
                error=f"the database driver for {url.drivername} is not installed ({exc}); "
                "install it with pip",
            )
        except NoSuchModuleError:
            return QueryResult("connection_error", error=_unknown_dialect(url.drivername))
        except Exception as exc:  # bad URL arguments
            return QueryResult("connection_error", error=_first_line(exc))
        try:
            try:
                conn = engine.connect()
            except Exception as exc:
                return QueryResult("connection_error", error=_first_line(exc))
            with conn:
                self._dbapi = conn.connection.dbapi_connection
                self._prepare(conn, backend)
                result = conn.execute(text(self.sql).execution_options(no_parameters=True))
                if not result.returns_rows:
                    return QueryResult("no_data", error="the query returned no result set")
                columns = list(result.keys())
                rows = result.fetchmany(2)
                conn.commit() if not self.db.read_only else conn.rollback()
            return _read(columns, rows)
        finally:
            engine.dispose()

    def _prepare(self, conn: Any, backend: str) -> None:
        ms = max(1, int(self.timeout * 1000))
        if backend == "postgresql":
            conn.exec_driver_sql(f"SET statement_timeout = {ms}")
            if self.db.read_only:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        elif backend == "sqlite":
            raw = self._dbapi
            deadline = self._deadline
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
            if self.db.read_only:
                conn.exec_driver_sql("PRAGMA query_only = ON")


def _unknown_dialect(drivername: str) -> str:
    import difflib

    from sqlalchemy.dialects import __all__ as known

    name = drivername.split("+")[0]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else " (is its SQLAlchemy dialect installed?)"
    return f"unknown database type {name!r} in the URL{hint}"


def _read(columns: list[str], rows: Sequence[Any]) -> QueryResult:
    if not rows:
        return QueryResult("no_data", error="the query returned no rows")
    if len(rows) > 1:
        return QueryResult(
            "multiple_rows",
            error="the query returned more than one row; it must return exactly one",
        )
    row = dict(zip(columns, rows[0], strict=True))
    lower = {c.lower(): c for c in columns}
    if "status" not in lower:
        return QueryResult(
            "missing_status",
            context=row,
            error=f"the result has no status column (columns: {', '.join(columns)})",
        )
    status = row[lower["status"]]
    value = row.get(lower.get("actual_value", ""))
    threshold = row.get(lower.get("threshold", ""))
    special = {lower[k] for k in ("status", "actual_value", "threshold") if k in lower}
    context = {k: v for k, v in row.items() if k not in special}
    normal = status.strip().upper() if isinstance(status, str) else None
    if normal not in {"ALERT", "OK"}:
        return QueryResult(
            "invalid_status",
            value,
            threshold,
            context,
            f"status must be ALERT or OK, got {status!r}",
        )
    return QueryResult(normal.lower(), value, threshold, context)


def _failure(exc: Exception, deadline: float) -> QueryResult:
    message = _first_line(exc)
    low = message.lower()
    if (
        time.monotonic() >= deadline - 0.05
        or "interrupted" in low
        or "statement timeout" in low
        or "canceling statement" in low
    ):
        return QueryResult("timeout", error=f"query cancelled at its timeout ({message})")
    return QueryResult("query_error", error=message)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0]}" if lines else type(orig).__name__
