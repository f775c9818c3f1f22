"""Any other database, through SQLAlchemy (imported only for such a URL).

The statement goes out through the dialect's driver as one `text()` without parameters;
whether a driver refuses several statements in one string is the driver's choice (most
do: MySQL drivers without the multi-statements flag, SQL Server through pyodbc runs the
first). `read_only` sets a read-only transaction where the dialect has one.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

from sqlsentinel.engine.session import ConnectError, Rows, first_line

_READ_ONLY = {
    "postgresql": "SET TRANSACTION READ ONLY",
    "mysql": "SET TRANSACTION READ ONLY",
    "mariadb": "SET TRANSACTION READ ONLY",
    "oracle": "SET TRANSACTION READ ONLY",
}


class SqlAlchemySession:
    """One SQLAlchemy connection (no pool), one statement."""

    def __init__(self, url_text: str, read_only: bool, timeout: float) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.exc import NoSuchModuleError
        from sqlalchemy.pool import NullPool

        from sqlsentinel.dburl import sqlalchemy_url

        try:
            url = sqlalchemy_url(url_text)
        except Exception as exc:  # bad URL arguments
            raise ConnectError(first_line(exc)) from None
        args = {"connect_timeout": max(1, math.ceil(timeout))} if url.get_backend_name() in {
            "postgresql", "mysql", "mariadb"} else {}  # fmt: skip
        try:
            self._engine = create_engine(url, poolclass=NullPool, connect_args=args)
            self._conn = self._engine.connect()
        except ImportError as exc:
            raise ConnectError(
                f"the database driver for {url.drivername} is not installed ({exc}); "
                "install it with pip"
            ) from None
        except NoSuchModuleError:
            raise ConnectError(_unknown_dialect(url.drivername)) from None
        except Exception as exc:
            raise ConnectError(first_line(exc)) from None
        self._dbapi: Any = self._conn.connection.dbapi_connection
        backend = url.get_backend_name()
        if backend == "postgresql":  # e.g. postgresql+psycopg2://
            self._conn.exec_driver_sql(f"SET statement_timeout = {max(1, int(timeout * 1000))}")
        if read_only and backend in _READ_ONLY:
            self._conn.exec_driver_sql(_READ_ONLY[backend])

    def run(self, sql: str, max_rows: int) -> Rows | None:
        from sqlalchemy import text

        result = self._conn.execute(text(sql).execution_options(no_parameters=True))
        if not result.returns_rows:
            return None
        rows: list[Sequence[Any]] = list(result.fetchmany(max_rows))
        return list(result.keys()), rows

    def end(self, commit: bool) -> None:
        try:
            self._conn.commit() if commit else self._conn.rollback()
        finally:
            self._conn.close()
            self._engine.dispose()

    def cancel(self) -> None:
        for method in ("cancel", "interrupt"):  # the DB-API has no standard for it
            fn = getattr(self._dbapi, method, None)
            if callable(fn):
                with contextlib.suppress(Exception):  # the driver may be closing already
                    fn()
                return

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self._dbapi.close()


def _unknown_dialect(drivername: str) -> str:
    import difflib

    from sqlalchemy.dialects import __all__ as known

    name = drivername.split("+")[0]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else " (is its SQLAlchemy dialect installed?)"
    return f"unknown database type {name!r} in the URL{hint}"
