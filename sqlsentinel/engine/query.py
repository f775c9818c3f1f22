"""Run an alert's query on its database and read the result contract.

The contract: one row with a `status` column (ALERT/OK, any case; the column
name in any case), optional `actual_value`, `threshold` and `severity` (info, warning,
error or critical; NULL: the alert's own), every other column is context. Every way
this can go wrong is a named outcome, never an exception.

Timeouts: PostgreSQL gets `statement_timeout`, SQLite a progress handler; on every
driver a watchdog cancels the statement at the deadline and, if it still runs after
QUERY_GRACE_S, makes sure it ends (PostgreSQL: the backend is terminated through a
second connection) and abandons the thread (`hung` is then set and the process must
exit without waiting for it).

Writes are committed only when the database says `read_only: false`, the run is not a
dry run, and the outcome is not an error; otherwise the transaction is rolled back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.budget import QUERY_GRACE_S
from sqlsentinel.core.outcomes import ERROR_OUTCOMES
from sqlsentinel.core.severity import Severity, severity_from
from sqlsentinel.core.spec import DatabaseSpec
from sqlsentinel.dburl import POSTGRESQL, SQLITE, parse_url
from sqlsentinel.engine.session import ConnectError, Session, first_line

if TYPE_CHECKING:
    from sqlsentinel.core.instances import Instance


@dataclass(frozen=True)
class QueryResult:
    """What the query said, as one named outcome."""

    outcome: str  # one of core.outcomes.ALL_OUTCOMES
    actual_value: Any = None
    threshold: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    hung: bool = False
    instances: tuple[Instance, ...] | None = None  # a keyed alert's rows (engine/keyed_query.py)
    severity: Severity | None = None  # the `severity` column's (None: the alert's own)


Reader = Callable[[list[str], Sequence[Any]], QueryResult]
"""Reads a result (its column names and rows) into an outcome."""


def run_query(
    db: DatabaseSpec,
    sql: str,
    timeout: float,
    *,
    dry_run: bool = False,
    read: Reader | None = None,
    max_rows: int = 2,
) -> QueryResult:
    """Run `sql` with a hard deadline of `timeout` seconds; `read` at most `max_rows` rows
    of its result (default: the one-row contract, which needs two to see a second row)."""
    worker = _Worker(db, sql, timeout, dry_run, (read or _read, max_rows))
    thread = threading.Thread(target=worker.run, name="sqlsentinel-query", daemon=True)
    thread.start()
    thread.join(timeout)
    if not thread.is_alive():
        assert worker.result is not None
        return worker.result
    worker.stop(kill=False)
    thread.join(QUERY_GRACE_S)
    if thread.is_alive():  # the statement ignored the cancel: end it for good
        worker.stop(kill=True)
        thread.join(QUERY_GRACE_S)
    return QueryResult("timeout", error=_timeout_text(timeout), hung=thread.is_alive())


def _timeout_text(timeout: float) -> str:
    return f"query did not finish within its timeout of {timeout:g}s"


def open_session(db: DatabaseSpec, timeout: float) -> Session:
    """A session on `db`; raises ConnectError."""
    url = parse_url(db.url)
    if url.native and url.backend == SQLITE:
        from sqlsentinel.engine.sqlite_session import SqliteSession

        return SqliteSession(url, db.read_only, time.monotonic() + timeout)
    if url.native and url.backend == POSTGRESQL:
        from sqlsentinel.engine.postgres_session import PostgresSession

        return PostgresSession(url.psycopg_args(), db.read_only, timeout)
    from sqlsentinel.engine.sqlalchemy_session import SqlAlchemySession

    return SqlAlchemySession(db.url, db.read_only, timeout)


class _Worker:
    def __init__(
        self, db: DatabaseSpec, sql: str, timeout: float, dry_run: bool, reader: tuple[Reader, int]
    ) -> None:
        self.db, self.sql, self.timeout, self.dry_run = db, sql, timeout, dry_run
        self.read, self.max_rows = reader
        self.result: QueryResult | None = None
        self._session: Session | None = None
        self._deadline = time.monotonic() + timeout

    def stop(self, *, kill: bool) -> None:
        """Cancel the statement (or end its server-side work); it may be finishing already."""
        session = self._session
        if session is not None:
            with contextlib.suppress(Exception):
                session.kill() if kill else session.cancel()

    def run(self) -> None:
        try:
            self._session = open_session(self.db, self.timeout)
        except ConnectError as exc:
            self.result = QueryResult("connection_error", error=str(exc))
            return
        result = QueryResult("query_error", error="the query did not run")
        try:
            rows = self._session.run(self.sql, self.max_rows)
            result = self.read(*rows) if rows else _NO_RESULT_SET
        except Exception as exc:  # any driver failure becomes a named outcome
            result = _failure(exc, self._deadline)
        finally:
            commit = not self.db.read_only and not self.dry_run
            with contextlib.suppress(Exception):
                self._session.end(commit and result.outcome not in ERROR_OUTCOMES)
            self.result = result


_NO_RESULT_SET = QueryResult("no_data", error="the query returned no result set")


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
    special = {lower[k] for k in ("status", "actual_value", "threshold", "severity") if k in lower}
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
    try:
        severity = severity_from(row[lower["severity"]]) if "severity" in lower else None
    except ValueError as exc:
        return QueryResult("bad_severity", value, threshold, context, str(exc))
    return QueryResult(normal.lower(), value, threshold, context, severity=severity)


def _failure(exc: Exception, deadline: float) -> QueryResult:
    message = first_line(exc)
    low = message.lower()
    if (
        time.monotonic() >= deadline - 0.05
        or "interrupted" in low
        or "statement timeout" in low
        or "canceling statement" in low
    ):
        return QueryResult("timeout", error=f"query cancelled at its timeout ({message})")
    if "not authorized" in low:
        message += " (read_only: true allows only reading)"
    return QueryResult("query_error", error=message)
