"""Test helpers shared across folders (import as `from support import ...`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlsentinel.core.spec import TargetSpec

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class CliResult:
    """A finished `python -m sqlsentinel` process."""

    rc: int
    stdout: str
    stderr: str


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment for CLI subprocesses: private cache and state dirs, this checkout first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLSENTINEL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["SQLSENTINEL_CACHE_DIR"] = str(tmp_path / "cache")
    env["STATE_DIRECTORY"] = str(tmp_path / "state")  # never the real default location
    return env


class Cli:
    """Runs `python -m sqlsentinel ARGS` in a test's temp dir; `argv`/`env`/`cwd` for Popen."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.env = cli_env(tmp_path)
        self.argv = [sys.executable, "-m", "sqlsentinel"]

    def __call__(
        self, *args: str | Path, timeout: float = 120, env: dict[str, str] | None = None
    ) -> CliResult:
        done = subprocess.run(
            [*self.argv, *map(str, args)],
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)


def make_target(
    channel: str, *, timeout: float | None = None, max_attempts: int = 4, **options: object
) -> TargetSpec:
    """A notification target as the config would compile it (lists, not tuples)."""
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
    return TargetSpec(channel, values, timeout, max_attempts)
