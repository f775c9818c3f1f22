"""PostgreSQL through psycopg 3: a read-only transaction (unless told otherwise), a statement
timeout, one statement through the extended protocol, and an end that leaves nothing running.

The result is streamed (libpq's single-row mode), so no more than the rows a reader asks for
are ever held in memory: a query that returns a million rows costs the first few, and the
statement is cancelled there."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Generator, Sequence
from typing import Any, cast

from sqlsentinel.engine.session import ConnectError, Rows, first_line


class PostgresSession:
    """psycopg 3: a read-only transaction (unless told otherwise) with a statement timeout."""

    def __init__(self, args: dict[str, Any], read_only: bool, timeout: float) -> None:
        import psycopg

        self._args = args
        try:
            self._conn = psycopg.connect(connect_timeout=max(1, math.ceil(timeout)), **args)
        except psycopg.Error as exc:
            raise ConnectError(first_line(exc)) from None
        self._read_only = read_only
        self._timeout_ms = max(1, int(timeout * 1000))

    def run(self, sql: str, max_rows: int) -> Rows | None:
        import psycopg

        cur = self._conn.cursor()
        cur.execute(f"SET LOCAL statement_timeout = {self._timeout_ms}")
        if self._conn.info.server_version >= 140000:  # a vanished client ends the query
            cur.execute("SET LOCAL client_connection_check_interval = 1000")
        if self._read_only:
            cur.execute("SET TRANSACTION READ ONLY")
        rows: list[Sequence[Any]] = []
        try:  # stream() uses the extended protocol: one statement, never several
            stream = cast("Generator[Sequence[Any], None, None]", cur.stream(sql))
            with contextlib.closing(stream):  # closing it early cancels the rest
                for row in stream:
                    rows.append(row)
                    if len(rows) >= max_rows:
                        break
        except psycopg.ProgrammingError as exc:
            if "didn't produce a result" in str(exc):  # a statement without a result set
                return None
            raise
        # with no rows, stream() never sees the columns: no reader needs them then
        return [d.name for d in cur.description or ()], rows

    def end(self, commit: bool) -> None:
        try:
            self._conn.commit() if commit else self._conn.rollback()
        finally:
            self._conn.close()

    def cancel(self) -> None:
        self._conn.cancel_safe(timeout=2.0)

    def kill(self) -> None:
        """Terminate this session's backend through a second connection, then hang up."""
        import psycopg

        pid = self._conn.info.backend_pid
        try:
            with psycopg.connect(connect_timeout=2, autocommit=True, **self._args) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        except psycopg.Error:  # not allowed or unreachable: hang up (the server notices it)
            self._conn.pgconn.finish()
