"""A real `systemd --user` manager in a private mount namespace, for the benchmarks (as root).

The same recipe as tests/systemd (temporary HOME and XDG folders, /run/systemd on tmpfs
inside the namespace), so nothing reaches the machine's own managers.
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

REPO = Path(__file__).resolve().parents[1]
NAMESPACE_SCRIPT = """\
set -e
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/system
exec /lib/systemd/systemd --user
"""


@contextlib.contextmanager
def user_manager() -> Iterator[tuple[int, Path, dict[str, str]]]:
    """Yields (manager pid, its temporary base folder, the environment to reach it)."""
    # short (AF_UNIX paths are limited) and not in /tmp: the units' PrivateTmp= hides it
    base = Path(tempfile.mkdtemp(prefix="sqsb-", dir="/run"))
    (base / "run").mkdir(mode=0o700)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(base / "home"),
        "XDG_CONFIG_HOME": str(base / "home/.config"),
        "XDG_RUNTIME_DIR": str(base / "run"),
        "PYTHONPATH": str(REPO),
        "LANG": "C.UTF-8",
    }
    manager = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not (base / "run/systemd/private").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        yield manager.pid, base, env
    finally:
        manager.send_signal(signal.SIGTERM)
        manager.wait(timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def manager_cpu_seconds(pid: int) -> float:
    """CPU seconds the manager process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
