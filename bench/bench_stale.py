"""The cost of the stale check: one look at 1,000 alerts, as the daemon takes every 30 s
(and `healthcheck`, `status`, `metrics CONFIG` take once).

Alerts on a mix of schedules (every minute, hourly, daily in a zone with DST, weekly,
monthly), each with a recorded last run that leaves it on schedule. Figures: the pure
verdicts (`applied.staleness.timetable_staleness`, CPU per alert) and the daemon's whole check
(`StaleWatch.check`: read the state rows and the open episodes, then decide), on a SQLite
state database. Usage, in this checkout: `PYTHONPATH=. python bench/bench_stale.py [-n 1000]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlsentinel.applied.accept import build_timetable
from sqlsentinel.applied.staleness import timetable_staleness
from sqlsentinel.applied.timetable import Launch
from sqlsentinel.config.loader import load_text
from sqlsentinel.core.decide import Rule, decide
from sqlsentinel.core.run import RunRecord
from sqlsentinel.daemon.stale_watch import StaleWatch
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.listings import last_runs
from sqlsentinel.state.record import open_run

SCHEDULES = [
    ("* * * * *", "UTC"),
    ("0 * * * *", "UTC"),
    ("30 2 * * *", "Europe/London"),
    ("0 9 * * 1", "America/New_York"),
    ("15 4 1 * *", "UTC"),
]


def config(n: int) -> str:
    alerts = "".join(
        f"  - name: a{i}\n    query: SELECT 'OK' AS status\n"
        f"    schedule: '{SCHEDULES[i % 5][0]}'\n    timezone: {SCHEDULES[i % 5][1]}\n"
        for i in range(n)
    )
    return f"database:\n  url: 'sqlite://'\nalerts:\n{alerts}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    loaded = load_text(config(args.n), "bench.yaml", {})
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'state.db'}"
        db = StateDB(url)
        db.ensure_schema()
        for a in loaded.alerts:  # each ran just now: on schedule
            rec = RunRecord(uuid.uuid4().hex, a.name, "CRON", None, None, now, now, "ok", "ok")
            with open_run(db, a.name, now) as tx:
                tx.write(rec, decide(tx.previous, "ok", Rule(), tx.silenced, now), [], None)
        runs = last_runs(db)
        later = now + timedelta(seconds=30)
        pure, whole = [], []
        watch = StaleWatch(url, lambda: later)
        table = build_timetable(loaded, Launch(False, ()), None, None, now - timedelta(days=1))
        watch.update(loaded, table)
        for _ in range(args.rounds):
            began = time.process_time()
            verdicts = timetable_staleness(table, runs, later)
            pure.append(time.process_time() - began)
            began = time.process_time()
            watch.check(later)
            whole.append(time.process_time() - began)
        assert not any(v.stale for v in verdicts)
    p, w = statistics.median(pure), statistics.median(whole)
    print(f"{args.n} alerts, median of {args.rounds} rounds (CPU seconds)")
    print(f"  verdicts only (timetable_staleness): {p:.3f} s ({p / args.n * 1e6:.0f} us per alert)")
    print(
        f"  daemon check (StaleWatch.check):  {w:.3f} s ({w / 30 * 100:.1f} % of one CPU at 30 s)"
    )


if __name__ == "__main__":
    main()
