"""PostgreSQL through psycopg 3: a read-only transaction (unless told otherwise), a statement
timeout, one statement through the extended protocol, and an end that leaves nothing running."""

from __future__ import annotations

import math
from typing import Any

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
        cur = self._conn.cursor()
        cur.execute(f"SET LOCAL statement_timeout = {self._timeout_ms}")
        if self._conn.info.server_version >= 140000:  # a vanished client ends the query
            cur.execute("SET LOCAL client_connection_check_interval = 1000")
        if self._read_only:
            cur.execute("SET TRANSACTION READ ONLY")
        with self._conn.pipeline():  # the extended protocol: one statement, never several
            cur.execute(sql)
        if cur.description is None:
            return None
        return [d.name for d in cur.description], cur.fetchmany(max_rows)

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
