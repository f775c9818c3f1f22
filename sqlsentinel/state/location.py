"""Where the state database lives when nothing says otherwise."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


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
    else:
        xdg = environ.get("XDG_STATE_HOME") or str(
            Path(environ.get("HOME", "/tmp")) / ".local/state"
        )
        base = Path(xdg) / "sqlsentinel"
    return base


def resolve_state_url(
    override: str | None, configured: str | None, environ: Mapping[str, str]
) -> str:
    """`--state-db` (or SQLSENTINEL_STATE_DB), else the config's `state_db`, else the default."""
    return override or configured or default_state_url(environ)
