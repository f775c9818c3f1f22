"""Values given outside the config file that loading falls back on: `--database-url`,
`DATABASE_URL`, the daemon's `--timezone`, and the folder relative SQLite paths are read from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlsentinel.dburl import sqlite_here, working_dir


@dataclass(frozen=True)
class Fallbacks:
    """`sqlsentinel daemon --timezone`, `--database-url` and `DATABASE_URL`.

    `timezone` applies to alerts that set none; `database_url` is the default alert
    database when the config has no `database:`, and replaces it when
    `database_url_overrides` (`--database-url` given on the command line). `workdir` is
    where a relative SQLite path is read from (dburl.sqlite_readings; None: the working
    directory when the config loads); an apply records its own, so the timers read the
    files the applier found.
    """

    timezone: str | None = None
    database_url: str | None = None
    database_url_overrides: bool = False
    workdir: str | None = None

    def to_json(self) -> dict[str, Any]:
        """For the applied snapshot's metadata."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, folder: str | None = None) -> Fallbacks:
        """Inverse of `to_json` (anything else gives no fallbacks). A copy applied before
        working directories were recorded read its paths from its config's `folder`."""
        if not isinstance(data, dict):
            return cls(workdir=folder)
        return cls(
            timezone=data.get("timezone"),
            database_url=data.get("database_url"),
            database_url_overrides=bool(data.get("database_url_overrides")),
            workdir=data.get("workdir", folder),
        )

    @classmethod
    def here(
        cls, environ: Mapping[str, str], database_url: str | None = None, **rest: Any
    ) -> Fallbacks:
        """What a command run here falls back on: `database_url` (`--database-url`, which
        overrides the config's), else DATABASE_URL (only where the config names none); a
        relative SQLite URL of either is read from the working directory, as is the config."""
        workdir = working_dir()
        url = database_url or environ.get("DATABASE_URL") or None
        if url is not None:
            url = sqlite_here(url)
        return cls(
            database_url=url,
            database_url_overrides=database_url is not None,
            workdir=None if workdir is None else str(workdir),
            **rest,
        )

    def key(self) -> bytes:
        """Bytes that tell these fallbacks apart (for the compiled cache's key)."""
        if self == NO_FALLBACKS:
            return b""
        return json.dumps(self.to_json(), sort_keys=True).encode()


NO_FALLBACKS = Fallbacks()
