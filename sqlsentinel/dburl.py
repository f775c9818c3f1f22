"""Database URLs in SQLAlchemy's grammar, parsed without importing SQLAlchemy.

SQLite and PostgreSQL are reached directly through their DB-API drivers (the stdlib
`sqlite3`, psycopg 3), so a timer tick never pays for SQLAlchemy; every other URL
goes to SQLAlchemy. The grammar is `sqlalchemy.engine.url`'s: `name[+driver]://
[user[:password]@][host][:port][/database][?key=value&...]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from sqlsentinel.errors import UsageError

_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
# Drivers reached natively: SQLite through the stdlib, PostgreSQL through psycopg 3.
_NATIVE = {(SQLITE, None), (SQLITE, "pysqlite"), (POSTGRESQL, None), (POSTGRESQL, "psycopg")}


@dataclass(frozen=True)
class DbUrl:
    """The parts of a database URL."""

    backend: str  # `postgresql`, `sqlite`, `mysql`, ... (`postgres` is read as postgresql)
    driver: str | None
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def native(self) -> bool:
        """Reached through its DB-API driver directly (no SQLAlchemy)."""
        return (self.backend, self.driver) in _NATIVE

    @property
    def sqlite_file(self) -> Path | None:
        """The file of a SQLite URL (None for `:memory:`, URIs and other backends)."""
        if self.backend != SQLITE or not self.database or self.database == ":memory:":
            return None
        return None if self.database.startswith("file:") else Path(self.database)

    def psycopg_args(self) -> dict[str, Any]:
        """Keyword arguments for `psycopg.connect`, as SQLAlchemy's psycopg dialect builds them."""
        args: dict[str, Any] = {
            "user": self.username,
            "password": self.password,
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
        }
        return {k: v for k, v in args.items() if v is not None} | self.query


class UrlError(ValueError):
    """Not a database URL in SQLAlchemy's grammar."""


def parse_url(text: str) -> DbUrl:
    """Parse `text`; raises UrlError for what SQLAlchemy would refuse too."""
    match = _URL.match(text)
    if match is None:
        raise UrlError(
            "not a valid SQLAlchemy database URL; write it like "
            "postgresql://user:password@host/dbname or sqlite:///path/to/file.db"
        )
    name, _, driver = match["name"].partition("+")
    port = match["port"]
    if port and not (port.isascii() and port.isdigit()):
        raise UrlError(f"the port in the database URL must be a number, not {port!r}")
    username, password = match["username"], match["password"]
    return DbUrl(
        backend=POSTGRESQL if name == "postgres" else name,
        driver=driver or None,
        username=unquote(username) if username is not None else None,
        password=unquote(password) if password is not None else None,
        host=match["ipv6host"] or match["ipv4host"] or None,
        port=int(port) if port else None,
        database=match["database"] or None,
        query=dict(parse_qsl(match["query"] or "", keep_blank_values=True)),
    )


def sqlalchemy_url(text: str) -> Any:
    """The SQLAlchemy URL object; plain `postgresql://` uses psycopg 3 when psycopg2 is absent."""
    import importlib.util

    from sqlalchemy.engine import make_url

    parsed = make_url(text)
    if (
        parsed.drivername in {"postgresql", "postgres"}
        and importlib.util.find_spec("psycopg2") is None
    ):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _relative_sqlite(url: str) -> tuple[str, str] | None:
    """(prefix, path) of a SQLite URL with a relative path, or of a bare relative file path
    (prefix `sqlite`); None for anything else."""
    if "://" not in url:
        return None if url.startswith("/") else ("sqlite", url)
    prefix, sep, rest = url.partition(":///")
    if prefix.startswith("sqlite") and sep and rest and not rest.startswith(("/", ":memory:")):
        return prefix, rest
    return None


def working_dir() -> Path | None:
    """The working directory relative SQLite paths are read from; None when it is gone or
    not reachable from here (deleted, or outside this mount namespace, as a command entered
    into a container keeps its caller's): they are then read from the config's folder."""
    try:
        return Path.cwd()
    except OSError:
        return None


def sqlite_here(url: str) -> str:
    """`url` with a relative SQLite path anchored at the working directory (UsageError when
    there is none to anchor it at)."""
    if _relative_sqlite(url) is None:
        return url
    here = working_dir()
    if here is None:
        raise UsageError(f"{url}: a relative path, and the working directory is gone")
    return sqlite_relative(url, here)


def sqlite_relative(url: str, base: Path) -> str:
    """Anchor a relative SQLite path (or a bare file path) at `base`."""
    relative = _relative_sqlite(url)
    if relative is None:
        return url
    prefix, rest = relative
    return f"{prefix}:///{(base / rest).resolve()}"


@dataclass(frozen=True)
class Readings:
    """The two readings of a relative SQLite path, and the one used."""

    path: str  # as written
    here: Path  # from the working directory (the original SQL Sentinel's, SQLAlchemy's)
    beside: Path  # from the config file's folder
    url: str  # the URL with the path used

    @property
    def differ(self) -> bool:
        """Whether the two readings name different files."""
        return self.here != self.beside


def sqlite_readings(url: str, workdir: Path, folder: Path) -> Readings | None:
    """How a relative SQLite path in a config in `folder` reads from `workdir` (None: the
    URL names no relative path). The working directory's file is used, as the original SQL
    Sentinel and SQLAlchemy read it, unless only the config folder's exists (how configs
    written for earlier versions of this one meant it)."""
    relative = _relative_sqlite(url)
    if relative is None:
        return None
    prefix, rest = relative
    here, beside = (workdir / rest).resolve(), (folder / rest).resolve()
    used = beside if beside.exists() and not here.exists() else here
    return Readings(rest, here, beside, f"{prefix}:///{used}")


def resolve_sqlite(url: str, workdir: Path, folder: Path) -> str:
    """`url` with a relative SQLite path made absolute as `sqlite_readings` reads it."""
    readings = sqlite_readings(url, workdir, folder)
    return url if readings is None else readings.url
