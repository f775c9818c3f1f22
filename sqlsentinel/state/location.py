"""Where the state database lives when nothing says otherwise.

Never in a shared folder: without `$STATE_DIRECTORY`, root's /var/lib/sqlsentinel, an
absolute `$XDG_STATE_HOME` or an absolute `$HOME`, there is no default, and a command
that needs the state database says so (exit 4) instead of falling back to /tmp.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sqlsentinel.errors import StateDBError

NO_DEFAULT = (
    "no place for the state database: HOME is not set (nor STATE_DIRECTORY or "
    "XDG_STATE_HOME); pass --state-db URL, set SQLSENTINEL_STATE_DB or state_db: in the config"
)


def default_state_url(environ: Mapping[str, str]) -> str:
    """`$STATE_DIRECTORY/state.db` under systemd, /var/lib/sqlsentinel for root, else XDG state."""
    return f"sqlite:///{state_dir(environ) / 'state.db'}"


def spool_dir(environ: Mapping[str, str]) -> Path:
    """Where runs keep results they could not write in time (see state/spool.py)."""
    return state_dir(environ) / "spool"


def state_dir(environ: Mapping[str, str]) -> Path:
    """This user's SQL Sentinel state folder: the default state DB's, the spool's and the
    applied configs' home."""
    if environ.get("STATE_DIRECTORY"):
        base = Path(environ["STATE_DIRECTORY"].split(":")[0])
    elif os.geteuid() == 0:
        base = Path("/var/lib/sqlsentinel")
    elif environ.get("XDG_STATE_HOME", "").startswith("/"):  # XDG: ignore a relative value
        base = Path(environ["XDG_STATE_HOME"]) / "sqlsentinel"
    elif environ.get("HOME", "").startswith("/"):
        base = Path(environ["HOME"]) / ".local/state/sqlsentinel"
    else:
        raise StateDBError(NO_DEFAULT)
    return base


def resolve_state_url(
    override: str | None, configured: str | None, environ: Mapping[str, str]
) -> str:
    """`--state-db` (or SQLSENTINEL_STATE_DB), else the config's `state_db`, else the default."""
    return override or configured or default_state_url(environ)
