"""Benchmark `install-units --user` with 1,000 alerts against a real systemd user manager.

Run as root: `python bench/bench_units.py [--alerts N]`. It starts `systemd --user` in a
private mount namespace with a temporary HOME (nothing touches the machine), then times
1. the first install (render, write, daemon-reload, start every timer),
2. a second install with nothing changed (must write nothing),
3. an install with one alert's schedule changed (must write only that alert's files),
and prints the manager's memory (VmRSS) before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAMESPACE_SCRIPT = """\
set -e
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/system
exec /lib/systemd/systemd --user
"""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _config(path: Path, count: int, changed: int | None = None) -> None:
    lines = [f"database:\n  url: sqlite:///{path.parent}/target.db", "alerts:"]
    for i in range(count):
        minute = (i * 7) % 60 if i != changed else (i * 7 + 1) % 60
        lines.append(
            f"  - name: 'alert {i:04d}'\n    query: SELECT 'OK' AS status\n"
            f"    schedule: '{minute} {i % 24} * * *'"
        )
    path.write_text("\n".join(lines) + "\n")


def _snapshot(unit_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in unit_dir.glob("sqlsentinel-*")}


def main() -> None:
    """Start a user manager, run the three installs, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    count = parser.parse_args().alerts
    base = Path(tempfile.mkdtemp(prefix="sqsb-"))
    (base / "run").mkdir(mode=0o700)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(base / "home"),
        "XDG_CONFIG_HOME": str(base / "home/.config"),
        "XDG_RUNTIME_DIR": str(base / "run"),
        "PYTHONPATH": str(REPO),
    }
    manager = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    unit_dir = base / "home/.config/systemd/user"
    config = base / "alerts.yaml"

    def install(label: str) -> tuple[float, set[str]]:
        before = _snapshot(unit_dir) if unit_dir.exists() else {}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sqlsentinel", "install-units", "--user", str(config)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - start
        after = _snapshot(unit_dir)
        written = {n for n, t in after.items() if before.get(n) != t}
        print(f"{label:<28} {elapsed:7.2f} s   files written: {len(written)}")
        return elapsed, written

    try:
        deadline = time.monotonic() + 20
        while not (base / "run/systemd/private").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        _config(config, count)
        rss_before = _rss_kib(manager.pid)
        print(f"alerts: {count}; systemd --user VmRSS before: {rss_before / 1024:.1f} MiB")
        install("first install")
        timers = subprocess.run(
            ["systemctl", "--user", "list-timers", "--no-legend", "sqlsentinel-*"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.count("\n")
        print(f"timers listed by systemctl --user list-timers: {timers}")
        _, written = install("second install (no change)")
        assert not written, written
        _config(config, count, changed=count // 2)
        _, written = install("one alert changed")
        assert len(written) == 1 and all("alert-0" in n for n in written), written
        rss_after = _rss_kib(manager.pid)
        print(
            f"systemd --user VmRSS after: {rss_after / 1024:.1f} MiB "
            f"(+{(rss_after - rss_before) / 1024:.1f} MiB)"
        )
    finally:
        manager.send_signal(signal.SIGTERM)
        manager.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
