"""The pieces of the real-systemd test harness that tests import (conftest.py holds fixtures)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CGROUP_ROOT = Path("/sys/fs/cgroup/unified")
NAMESPACE_SCRIPT = """\
set -e
# A cgroup of its own: managers of parallel sessions would otherwise share
# /app.slice/NAME.service, and one stopping a unit would kill the other's of that name.
if [ -d "$CGROUP" ]; then echo $$ > "$CGROUP/cgroup.procs"; fi
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/system /run/log
mount -t tmpfs tmpfs /run/log
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
/lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
echo $! > "$BASE/journald.pid"
exec /lib/systemd/systemd --user
"""


@dataclass
class UserManager:
    """Handle on the running user manager: its environment and helpers to drive it."""

    pid: int
    base: Path
    env: dict[str, str]

    @property
    def unit_dir(self) -> Path:
        """The manager's user unit folder (what `install-units --user` writes to)."""
        return Path(self.env["XDG_CONFIG_HOME"]) / "systemd" / "user"

    def run(
        self, *argv: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a command with the manager's environment."""
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def in_namespace(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the manager's mount namespace (journalctl needs it)."""
        return self.run("nsenter", "--target", str(self.pid), "--mount", "--", *argv, check=check)

    def systemctl(self, *args: str, check: bool = True) -> str:
        """`systemctl --user ARGS` and its stdout."""
        return self.run("systemctl", "--user", "--no-pager", *args, check=check).stdout

    def sqlsentinel(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run this checkout's `sqlsentinel` CLI with the manager's environment."""
        return self.run(sys.executable, "-m", "sqlsentinel", *args, check=check)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        """`systemctl --user show -p … UNIT` as a dict."""
        out = self.systemctl("show", *(f"--property={p}" for p in props), unit)
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_running(manager: UserManager, deadline: float) -> None:
    while time.monotonic() < deadline:
        state = manager.systemctl("show", "--property=SystemState", "--value", check=False).strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.1)
    raise RuntimeError("the systemd user manager did not start")


def logging_systemctl(tmp_path: Path, manager: UserManager) -> tuple[str, Path]:
    """A PATH whose `systemctl` logs each call's arguments to the returned file, then runs
    the real one."""
    shim, log = tmp_path / "shim", tmp_path / "systemctl.log"
    shim.mkdir()
    real = shutil.which("systemctl", path=manager.env["PATH"])
    (shim / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (shim / "systemctl").chmod(0o755)
    return f"{shim}:{manager.env['PATH']}", log


def write_config(workdir: Path, alerts: str, name: str = "alerts.yaml") -> Path:
    """Write a config whose alerts query `workdir/target.db` and record to `workdir/state.db`."""
    path = workdir / name
    path.write_text(
        f"database:\n  url: sqlite:///{workdir}/target.db\n"
        f"state_db: sqlite:///{workdir}/state.db\n"
        "alerts:\n" + textwrap.indent(textwrap.dedent(alerts), "  "),
        encoding="utf-8",
    )
    return path
