"""Small helpers for database URLs shared by the state and the alert databases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy.engine import URL, make_url


def normalise(url: str) -> URL:
    """Parse `url`; plain `postgresql://` uses psycopg 3 when psycopg2 is not installed."""
    parsed = make_url(url)
    if (
        parsed.drivername in {"postgresql", "postgres"}
        and importlib.util.find_spec("psycopg2") is None
    ):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_relative(url: str, base: Path) -> str:
    """Anchor a relative SQLite path (or a bare file path) at the config file's folder."""
    if "://" not in url:
        return f"sqlite:///{(base / url).resolve()}"
    prefix, sep, rest = url.partition(":///")
    if prefix.startswith("sqlite") and sep and rest and not rest.startswith(("/", ":memory:")):
        return f"{prefix}:///{(base / rest).resolve()}"
    return url
