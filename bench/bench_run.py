"""Hot-path benchmark of `sqlsentinel run CONFIG --alert X --triggered-by CRON`.

Measures median wall time and peak RSS (per child, from wait4's rusage) of:

* floor: `python -c` importing SQLAlchemy and running the same query on the same SQLite file;
* run-1: the run command on a 1-alert config (SQLite target + SQLite state, no notification);
* run-1000: the same command on a 1,000-alert config.

The compiled cache is warmed with one run of each config first. Targets: run-1 <= 1.3x floor,
run-1000 <= 1.2x run-1. Usage: `python bench/bench_run.py [-n 15]`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUERY = "SELECT CASE WHEN count(*) > 100 THEN 'ALERT' ELSE 'OK' END AS status FROM t"
TARGETS = {"run-1 / floor": 1.3, "run-1000 / run-1": 1.2}


def write_config(path: Path, target: Path, state: Path, alerts: int) -> None:
    lines = [f"database:\n  url: sqlite:///{target}", f"state_db: sqlite:///{state}", "alerts:"]
    for i in range(alerts):
        name = "x" if i == 0 else f"alert_{i:04d}"
        lines += [
            f"  - name: {name}",
            f'    query: "{QUERY}"',
            f"    schedule: '{i % 60} * * * *'",
            "    tags: [bench]",
        ]
    path.write_text("\n".join(lines) + "\n")


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}:\n{err}")
    return wall, int(usage.ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repetitions", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sqlsentinel-bench-") as name:
        bench(Path(name), args.repetitions)


def bench(tmp: Path, repetitions: int) -> None:
    target, state = tmp / "alerts.db", tmp / "state.db"
    with sqlite3.connect(target) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50)])
    one, many = tmp / "one.yaml", tmp / "many.yaml"
    write_config(one, target, state, 1)
    write_config(many, target, tmp / "state-many.db", 1000)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLSENTINEL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["SQLSENTINEL_CACHE_DIR"] = str(tmp / "cache")
    py = sys.executable
    floor_code = (
        "from sqlalchemy import create_engine, text\n"
        f"e = create_engine('sqlite:///{target}')\n"
        f"with e.connect() as c: c.execute(text({QUERY!r})).fetchall()\n"
    )
    cases = {
        "floor": [py, "-c", floor_code],
        "run-1": [py, "-m", "sqlsentinel", "run", str(one), "--alert", "x", "--triggered-by",
                  "CRON"],
        "run-1000": [py, "-m", "sqlsentinel", "run", str(many), "--alert", "x",
                     "--triggered-by", "CRON"],
    }  # fmt: skip
    for argv in cases.values():  # warm the compiled cache, the state DBs and the OS page cache
        measure(argv, env, tmp)

    walls: dict[str, list[float]] = {k: [] for k in cases}
    rss: dict[str, list[int]] = {k: [] for k in cases}
    for _ in range(repetitions):  # interleaved, so drift hits every case alike
        for name, argv in cases.items():
            wall, peak = measure(argv, env, tmp)
            walls[name].append(wall)
            rss[name].append(peak)

    print(f"python {sys.version.split()[0]}, {repetitions} repetitions, {os.cpu_count()} CPUs")
    print(f"{'case':<10} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'peak RSS MiB':>13}")
    med = {k: statistics.median(v) for k, v in walls.items()}
    for name in cases:
        print(
            f"{name:<10} {med[name] * 1000:>10.1f} {min(walls[name]) * 1000:>8.1f} "
            f"{max(walls[name]) * 1000:>8.1f} {max(rss[name]) / 1024:>13.1f}"
        )
    ratios = {
        "run-1 / floor": med["run-1"] / med["floor"],
        "run-1000 / run-1": med["run-1000"] / med["run-1"],
    }
    rss_ratio = statistics.median(rss["run-1"]) / statistics.median(rss["floor"])
    best = {k: min(v) for k, v in walls.items()}
    best_ratios = [best["run-1"] / best["floor"], best["run-1000"] / best["run-1"]]
    for (name, value), by_min in zip(ratios.items(), best_ratios, strict=True):
        verdict = "ok" if value <= TARGETS[name] else "MISSED"
        print(
            f"{name:<18} {value:5.2f}x  (target <= {TARGETS[name]}x) {verdict}"
            f"   [by min: {by_min:.2f}x]"
        )
    print(f"{'RSS run-1 / floor':<18} {rss_ratio:5.2f}x")


if __name__ == "__main__":
    main()
