"""What every way of reaching a database provides: a `Session` (one per backend).

SQLite goes through the stdlib `sqlite3` and PostgreSQL through psycopg 3 directly, so
a tick pays for neither SQLAlchemy nor its dialects; any other SQLAlchemy URL goes
through SQLAlchemy (engine/sqlalchemy_session.py). Every session runs exactly one
statement: sqlite3 refuses a second one, psycopg sends the query with the extended
protocol (which the server refuses to run several statements through), and the
SQLAlchemy path relies on its driver (documented per dialect in docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Rows = tuple[list[str], list[Sequence[Any]]]


class ConnectError(Exception):
    """The database could not be reached (a `connection_error` outcome); message is safe."""


class Session(Protocol):
    """One connection, one statement, one transaction."""

    def run(self, sql: str, max_rows: int) -> Rows | None:
        """Run `sql`; its column names and at most `max_rows` rows (None: no result set).

        The column names may be missing when there are no rows (PostgreSQL streams).
        """
        ...

    def end(self, commit: bool) -> None:
        """Commit (only when told to) or roll back, and close."""
        ...

    def cancel(self) -> None:
        """Ask the running statement to stop (called from another thread)."""
        ...

    def kill(self) -> None:
        """Make sure no work is left running on the server (after a cancel was ignored)."""
        ...


def first_line(exc: BaseException) -> str:
    """`Type: first line of the message` of a driver error (never the connection string)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0]}" if lines else type(orig).__name__
