"""A real systemd user manager (and journald) in a private mount namespace, for the tests.

The manager runs as `unshare --mount` → `systemd --user` with a temporary HOME,
XDG_CONFIG_HOME and XDG_RUNTIME_DIR, so its unit folder (~/.config/systemd/user) and its
private socket are temporary too. Inside the namespace /run/systemd and /run/log are
tmpfs, so journald's files and sockets never reach the machine. Commands reach the
manager through its socket in XDG_RUNTIME_DIR, so tests run `systemctl --user` and
`sqlsentinel install-units --user` with `UserManager.env`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from systemd_harness import CGROUP_ROOT, NAMESPACE_SCRIPT, REPO, UserManager, wait_running


@pytest.fixture(scope="session")
def user_manager() -> Iterator[UserManager]:
    """Start `systemd --user` (plus journald) in a private mount namespace; stop it after."""
    if os.geteuid() != 0:
        pytest.fail("tests/systemd need root (unshare --mount); CI runs them as root")
    # short (AF_UNIX paths are limited) and not in /tmp: the units' PrivateTmp= hides it
    base = Path(tempfile.mkdtemp(prefix="sqs-", dir="/run"))
    (base / "run").mkdir(mode=0o700)
    (base / "home").mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "HOME": str(base / "home"),
        "XDG_CONFIG_HOME": str(base / "home" / ".config"),
        "XDG_RUNTIME_DIR": str(base / "run"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={base / 'run' / 'bus'}",
        "PYTHONPATH": str(REPO),  # services run `python -m sqlsentinel` from this checkout
        "LANG": "C.UTF-8",
        "BASE": str(base),
        "STATE_DIRECTORY": str(base / "state"),  # applied copies: never the machine's folder
    }
    cgroup = CGROUP_ROOT / base.name
    with contextlib.suppress(OSError):
        cgroup.mkdir()
    env["CGROUP"] = str(cgroup)
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(base / "manager.log", "w"),  # noqa: SIM115  (closed with the process)
    )
    manager = UserManager(proc.pid, base, env)
    try:
        wait_running(manager, time.monotonic() + 20)
        yield manager
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        journald = base / "journald.pid"
        if journald.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(journald.read_text()), signal.SIGTERM)
        shutil.rmtree(base, ignore_errors=True)
        for root in (CGROUP_ROOT, CGROUP_ROOT.parent / "systemd"):  # the manager makes both
            _remove_cgroup(root / base.name, time.monotonic() + 10)


def _remove_cgroup(cgroup: Path, deadline: float) -> None:
    """Remove the session's cgroup tree, leaves first, once its last process is gone."""
    while cgroup.is_dir() and time.monotonic() < deadline:
        folders = sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for folder in [*folders, cgroup]:
            with contextlib.suppress(OSError):
                folder.rmdir()
        if cgroup.is_dir():
            time.sleep(0.1)


@pytest.fixture
def workdir(user_manager: UserManager) -> Iterator[Path]:
    """A folder with a target SQLite database; configs and the state DB go here too. In the
    manager's base, not in /tmp, where the services' PrivateTmp= would hide it."""
    import sqlite3

    (user_manager.base / "work").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=user_manager.base / "work"))
    sqlite3.connect(folder / "target.db").close()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def units(user_manager: UserManager) -> Iterator[UserManager]:
    """The user manager, with every unit sqlsentinel installed removed after the test."""
    yield user_manager
    user_manager.sqlsentinel("uninstall-units", "--user", check=False)
