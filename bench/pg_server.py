"""A throwaway PostgreSQL 15 server for the benchmarks (initdb + pg_ctl in a temp folder).

As root, the server runs as an unprivileged system user (created when missing), like the
test suite's fixture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path(os.environ.get("SQLSENTINEL_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "sqlsentinel-test"


def _as_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", PG_USER], check=True)  # fmt: skip
    return ["runuser", "-u", PG_USER, "--", *cmd]


@contextlib.contextmanager
def pg_server(max_connections: int = 100) -> Iterator[str]:
    """Yields `postgresql://postgres@127.0.0.1:PORT` with a database `bench` created."""
    base = Path(tempfile.mkdtemp(prefix="sqlsentinel-bench-pg-"))
    if os.geteuid() == 0:
        _as_user(["true"])
        shutil.chown(base, PG_USER)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data, ctl = base / "data", [str(PG_BIN / "pg_ctl"), "-D", str(base / "data")]
    opts = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c max_connections={max_connections}")  # fmt: skip
    try:
        initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        subprocess.run(_as_user([*initdb, "--no-sync"]), check=True, capture_output=True)
        subprocess.run(_as_user([*ctl, "-w", "-l", str(base / "log"), "-o", opts, "start"]),
                       check=True, capture_output=True)  # fmt: skip
        url = f"postgresql://postgres@127.0.0.1:{port}"
        subprocess.run(["psql", f"{url}/postgres", "-qc", "CREATE DATABASE bench"], check=True)
        yield url
    finally:
        subprocess.run(_as_user([*ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
