"""What `status CONFIG` and `metrics CONFIG` cost, beside `status --state-db`, at 4 and 1,000
alerts: wall, CPU and peak RSS, interleaved, medians.

`status --state-db URL` reads the state database alone; with CONFIG, status and metrics
also say which config is applied and whether each alert missed a run. Target (issue 19):
each within 1.2x of `status --state-db`. Each install measured is a non-editable,
runtime-only one (`python -m venv V && V/bin/pip install CHECKOUT`), as users run it; give
several with --python LABEL=V/bin/python (e.g. the code before and after a change), and
they are interleaved with each other too. For each install and size a private state
folder holds what that install applied (`install-units --user --no-reload` into a private
unit folder) and one recorded run per alert. Peak RSS comes from GNU time (a child forked
from this process would count this process's pages as its own), CPU and wall from wait4.

Usage: `python bench/bench_readers.py --python before=/tmp/b/bin/python
--python after=/tmp/a/bin/python [-n 21]`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

SIZES = (4, 1000)
CASES = ("status --state-db", "status CONFIG", "metrics CONFIG")
TARGET = 1.2


def config_text(alerts: int, target: Path) -> str:
    lines = [f"database:\n  url: sqlite:///{target}", "state_db: state.db", "alerts:"]
    for i in range(alerts):
        lines += [f"  - name: alert_{i:04d}", "    query: SELECT 'OK' AS status",
                  f"    schedule: '{i % 60} * * * *'", "    timezone: Europe/London"]  # fmt: skip
    return "\n".join(lines) + "\n"


def prepare(python: str, folder: Path, alerts: int) -> dict[str, list[str]]:
    """Apply a config of `alerts` alerts with this install and record a run of each."""
    folder.mkdir(parents=True)
    target = folder / "target.db"
    sqlite3.connect(target).close()
    config = folder / "alerts.yaml"
    config.write_text(config_text(alerts, target))
    cli = [python, "-m", "sqlsentinel"]
    env = environment(folder)
    units = folder / "units"
    for argv in (
        [*cli, "install-units", "--user", "--unit-dir", str(units), "--no-reload", str(config)],
        [*cli, "run", str(config)],
    ):
        subprocess.run(argv, env=env, cwd=folder, check=True, capture_output=True)
    state = f"sqlite:///{folder / 'state.db'}"
    return {
        "status --state-db": [*cli, "status", "--state-db", state],
        "status CONFIG": [*cli, "status", str(config)],
        "metrics CONFIG": [*cli, "metrics", str(config)],
    }


def environment(folder: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["HOME"] = env["XDG_RUNTIME_DIR"] = str(folder)
    env["STATE_DIRECTORY"] = str(folder / "state")
    env["SQLSENTINEL_CACHE_DIR"] = str(folder / "cache")
    return env


def measure(argv: list[str], folder: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one run of `argv`."""
    report = folder / ".time"
    began = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-o", str(report), "-f", "%M", *argv],
                            env=environment(folder), cwd=folder, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{argv} failed:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, int(report.read_text().split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", required=True, metavar="LABEL=PYTHON")
    parser.add_argument("-n", type=int, default=21, help="runs of each case")
    args = parser.parse_args()
    installs = dict(item.split("=", 1) for item in args.python)
    work = Path(tempfile.mkdtemp(prefix="sqs-bench-readers-"))
    cases = {}
    for label, python in installs.items():
        for size in SIZES:
            folder = work / f"{label}-{size}"
            for case, argv in prepare(python, folder, size).items():
                cases[(label, size, case)] = (argv, folder)
    figures: dict[tuple[str, int, str], list[tuple[float, float, float]]] = {k: [] for k in cases}
    for _ in range(args.n):  # interleaved: drift and load hit every case alike
        for key, (argv, folder) in cases.items():
            figures[key].append(measure(argv, folder))
    print(f"{args.n} runs each, interleaved; medians; load average {os.getloadavg()[0]:.2f}")
    print(f"{'install':<8} {'alerts':>6}  {'case':<18} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8}"
          "   vs status --state-db (wall, CPU)")  # fmt: skip
    for (label, size, case), runs in figures.items():
        wall, cpu, rss = (statistics.median(r[i] for r in runs) for i in range(3))
        base = figures[(label, size, CASES[0])]
        base_wall = statistics.median(r[0] for r in base)
        base_cpu = statistics.median(r[1] for r in base)
        ratio = f"{wall / base_wall:.2f}x, {cpu / base_cpu:.2f}x"
        verdict = "" if case == CASES[0] else ("  ok" if max(wall / base_wall, cpu / base_cpu)
                                                <= TARGET else "  MISSED")  # fmt: skip
        print(f"{label:<8} {size:>6}  {case:<18} {wall:7.3f} {cpu:7.3f} {rss:8.1f}   "
              f"{ratio}{verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
