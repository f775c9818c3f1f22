"""Benchmark install-units, status and uninstall-units against a real systemd user manager.

Run as root: `python bench/bench_units.py [--alerts 1000 2000] [--repeat 3]`. For each
count, and each repetition, it starts a fresh `systemd --user` in a private mount
namespace with a temporary HOME (nothing touches the machine), then measures

1. the first install (render, write, daemon-reload, start every timer),
2. a second install with nothing changed (must write nothing),
3. an install with one alert's schedule changed (must write only that alert's file),
4. `status` (the next and last run of every timer),
5. `uninstall-units` (stop, delete, daemon-reload),

each as wall time and as CPU seconds spent inside the manager (utime + stime of the
`systemd --user` process, from /proc/PID/stat, before and after the command): the manager
runs one thing at a time, so its busy time is time no timer can fire. Prints the median
of the repetitions (and every value) and the manager's memory before and after.
N alerts are 2N unit files (a timer and a service each).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from user_manager import REPO, manager_cpu_seconds, user_manager

PHASES = ("install", "second install", "one changed", "status", "uninstall")


@dataclass
class Manager:
    """A running `systemd --user` and the environment that reaches it."""

    pid: int
    base: Path
    env: dict[str, str]

    def cpu_seconds(self) -> float:
        """utime + stime of the manager process."""
        return manager_cpu_seconds(self.pid)

    def rss_mib(self) -> float:
        """The manager's resident memory."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def sqlsentinel(self, *args: str) -> tuple[float, float]:
        """Run this checkout's CLI; return (wall seconds, manager CPU seconds)."""
        cpu, start = self.cpu_seconds(), time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "sqlsentinel", *args],
            cwd=REPO,  # `-m` puts the working folder first on sys.path
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"sqlsentinel {' '.join(args[:1])} failed: {done.stderr}")
        return time.perf_counter() - start, self.cpu_seconds() - cpu


def write_config(path: Path, count: int, changed: int | None = None) -> None:
    """`count` alerts on New Year's Day only, so no timer fires while measuring."""
    lines = [
        f"database:\n  url: sqlite:///{path.parent}/target.db",
        f"state_db: sqlite:///{path.parent}/state.db",
        "alerts:",
    ]
    for i in range(count):
        minute = (i * 7) % 60 if i != changed else (i * 7 + 1) % 60
        lines.append(
            f"  - name: 'alert {i:04d}'\n    query: SELECT 'OK' AS status\n"
            f"    schedule: '{minute} {i % 24} 1 1 *'"
        )
    path.write_text("\n".join(lines) + "\n")


def _snapshot(unit_dir: Path) -> dict[str, int]:
    if not unit_dir.exists():
        return {}
    return {p.name: p.stat().st_mtime_ns for p in unit_dir.glob("sqlsentinel-*")}


def one_round(count: int) -> tuple[dict[str, tuple[float, float]], tuple[float, float]]:
    """Every phase once in a fresh manager: {phase: (wall, manager CPU)}, (RSS before, after)."""
    with user_manager() as (pid, base, env):
        manager = Manager(pid, base, env)
        unit_dir = manager.base / "home/.config/systemd/user"
        config = manager.base / "alerts.yaml"
        write_config(config, count)
        rss_before = manager.rss_mib()
        figures = {}
        written: list[set[str]] = []
        for phase in PHASES[:3]:
            if phase == "one changed":
                write_config(config, count, changed=count // 2)
            before = _snapshot(unit_dir)
            figures[phase] = manager.sqlsentinel("install-units", "--user", str(config))
            after = _snapshot(unit_dir)
            written.append({n for n, t in after.items() if before.get(n) != t})
        assert len(written[0]) == 2 * count and not written[1] and len(written[2]) == 1
        figures["status"] = manager.sqlsentinel("status", str(config))
        rss_after = manager.rss_mib()
        figures["uninstall"] = manager.sqlsentinel("uninstall-units", "--user")
        assert not _snapshot(unit_dir), "uninstall left unit files"
        return figures, (rss_before, rss_after)


def report(
    count: int, rounds: list[dict[str, tuple[float, float]]], rss: tuple[float, float]
) -> None:
    """One line per phase: median wall and manager CPU, then every value."""
    print(f"\n{count} alerts = {2 * count} unit files; {len(rounds)} rounds (median, then all)")
    print(f"{'phase':<16} {'wall s':>8} {'manager CPU s':>14}   all wall / all CPU")
    for phase in PHASES:
        walls = [r[phase][0] for r in rounds]
        cpus = [r[phase][1] for r in rounds]
        print(
            f"{phase:<16} {statistics.median(walls):8.2f} {statistics.median(cpus):14.2f}   "
            f"{' '.join(f'{w:.2f}' for w in walls)} / {' '.join(f'{c:.2f}' for c in cpus)}"
        )
    print(f"systemd --user VmRSS: {rss[0]:.1f} MiB before, {rss[1]:.1f} MiB with the units")


def main() -> None:
    """Run the rounds for every count and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for count in args.alerts:
        rounds, rss = [], (0.0, 0.0)
        for _ in range(args.repeat):
            figures, rss = one_round(count)
            rounds.append(figures)
        report(count, rounds, rss)


if __name__ == "__main__":
    main()
