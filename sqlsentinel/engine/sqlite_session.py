"""SQLite through the stdlib: an existing file only, a progress handler for the deadline.

`read_only: true` sets `PRAGMA query_only` (writes fail with "attempt to write a
readonly database") and an authorizer that refuses what query_only lets through:
ATTACH/DETACH (which create or open other files) and setting any PRAGMA (such as
`journal_mode`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from sqlsentinel.dburl import DbUrl
from sqlsentinel.engine.session import ConnectError, Rows, first_line

_REFUSED = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}


def _authorize(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    if action in _REFUSED or (action == sqlite3.SQLITE_PRAGMA and arg2 is not None):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class SqliteSession:
    """One connection to an existing SQLite database."""

    def __init__(self, url: DbUrl, read_only: bool, deadline: float) -> None:
        path = url.sqlite_file
        if path is not None and not path.is_file():
            raise ConnectError(f"no SQLite database at {path}")
        target = f"file:{quote(str(path))}?mode=rw" if path is not None else url.database or ""
        timeout = max(0.0, deadline - time.monotonic())
        try:
            self._conn = sqlite3.connect(target, timeout=timeout, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConnectError(first_line(exc)) from None
        self._conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        if read_only:
            self._conn.execute("PRAGMA query_only = ON")
            self._conn.set_authorizer(_authorize)
        self._conn.execute("BEGIN")

    def run(self, sql: str, max_rows: int) -> Rows | None:
        cursor = self._conn.execute(sql)  # sqlite3 refuses a second statement
        if cursor.description is None:
            return None
        rows: list[Sequence[Any]] = cursor.fetchmany(max_rows)
        return [d[0] for d in cursor.description], rows

    def end(self, commit: bool) -> None:
        try:
            self._conn.set_authorizer(None)
            self._conn.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            self._conn.close()

    def cancel(self) -> None:
        self._conn.interrupt()

    def kill(self) -> None:
        self._conn.interrupt()  # nothing runs outside this process
