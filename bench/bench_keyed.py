"""A per-row alert returning 1,000 rows beside a one-row alert: one tick of each.

A tick is `sqlsentinel run CONFIG --alert X --triggered-by CRON` with a warm spec cache, in
a fresh process; CPU and wall time come from wait4, peak RSS from GNU time (as in
bench_tick.py). Cases, interleaved so that drift hits them alike, each on SQLite (alert
and state database) and on PostgreSQL (both):

* `one-row`: the one-row contract, `SELECT … AS status` over a 1,000-row table;
* `keyed-1000`: `key: warehouse_id` over the same table, one instance per row (50 of them
  firing): a steady tick, where every instance is read and decided and nothing changes,
  so nothing is written back;
* `keyed-1000-churn`: the same with a random `actual_value`, so every instance's row is
  written back at every tick (the most a tick without state changes writes).

Usage (root, for the PostgreSQL server): `python bench/bench_keyed.py [-n 15]`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tick import measure
from pg_server import pg_server

REPO = Path(__file__).resolve().parent.parent
ROWS = 1000
FIRING = 50
ONE_ROW = "SELECT CASE WHEN max(late) > 30 THEN 'ALERT' ELSE 'OK' END AS status FROM w"
KEYED = (
    "SELECT id AS warehouse_id, CASE WHEN late > 30 THEN 'ALERT' ELSE 'OK' END AS status, "
    "late AS actual_value, 30 AS threshold, name FROM w"
)
CHURN = KEYED.replace("late AS actual_value", "random() AS actual_value")


def _config(path: Path, target: str, state: str) -> None:
    path.write_text(
        f"database:\n  url: {target}\nstate_db: {state}\nalerts:\n"
        f'  - name: one\n    query: "{ONE_ROW}"\n    schedule: "* * * * *"\n'
        f'  - name: keyed\n    key: warehouse_id\n    query: "{KEYED}"\n    schedule: "* * * * *"\n'
        f'  - name: churn\n    key: warehouse_id\n    query: "{CHURN}"\n    schedule: "* * * * *"\n'
    )


def _tables(tmp: Path, pg: str) -> None:
    rows = [(i, 60 if i <= FIRING else 5, f"warehouse {i}") for i in range(1, ROWS + 1)]
    with sqlite3.connect(tmp / "target.db") as db:
        db.execute("CREATE TABLE w (id INTEGER, late INTEGER, name TEXT)")
        db.executemany("INSERT INTO w VALUES (?, ?, ?)", rows)
    sql = (
        "CREATE TABLE w (id int, late int, name text); INSERT INTO w SELECT i, "
        f"CASE WHEN i <= {FIRING} THEN 60 ELSE 5 END, 'warehouse ' || i "
        f"FROM generate_series(1, {ROWS}) AS i"
    )
    subprocess.run(["psql", pg, "-qc", sql], check=True)


def _cases(tmp: Path, pg: str) -> dict[str, list[str]]:
    _tables(tmp, pg)
    _config(tmp / "sqlite.yaml", f"sqlite:///{tmp / 'target.db'}", f"sqlite:///{tmp}/state.db")
    _config(tmp / "pg.yaml", pg, pg)
    tick = [sys.executable, "-m", "sqlsentinel", "run"]
    cron = ["--triggered-by", "CRON", "--alert"]
    return {
        f"{name}-{backend}": [*tick, str(tmp / f"{backend}.yaml"), *cron, alert]
        for backend in ("sqlite", "pg")
        for name, alert in (
            ("one-row", "one"),
            ("keyed-1000", "keyed"),
            ("keyed-1000-churn", "churn"),
        )
    }


def bench(tmp: Path, repetitions: int) -> None:
    with pg_server() as pg_root:
        cases = _cases(tmp, f"{pg_root}/bench")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SQLSENTINEL_")}
        env.update(PYTHONPATH=str(REPO), SQLSENTINEL_CACHE_DIR=str(tmp / "cache"),
                   STATE_DIRECTORY=str(tmp / "state"))  # fmt: skip
        for argv in cases.values():  # the first run fills the spec cache and the instances
            measure(argv, env, tmp)
        runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
        for _ in range(repetitions):
            for name, argv in cases.items():
                runs[name].append(measure(argv, env, tmp))
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in runs.items()}
    print(f"python {sys.version.split()[0]}, {repetitions} interleaved repetitions, "
          f"{os.cpu_count()} CPUs; {ROWS} rows, {FIRING} firing")  # fmt: skip
    print(f"{'case':<24} {'CPU ms':>8} {'wall ms':>8} {'peak RSS MiB':>13}")
    for name, (cpu, wall, rss) in med.items():
        print(f"{name:<24} {cpu * 1000:>8.1f} {wall * 1000:>8.1f} {rss:>13.1f}")
    for backend in ("sqlite", "pg"):
        one = med[f"one-row-{backend}"]
        for case in ("keyed-1000", "keyed-1000-churn"):
            keyed = med[f"{case}-{backend}"]
            print(
                f"{backend}: {case} costs {(keyed[1] - one[1]) * 1000:+.1f} ms wall, "
                f"{(keyed[0] - one[0]) * 1000:+.1f} ms CPU, {keyed[2] - one[2]:+.1f} MiB peak "
                "RSS beside one-row"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repetitions", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqlsentinel-bench-") as name:
        bench(Path(name), args.repetitions)


if __name__ == "__main__":
    main()
