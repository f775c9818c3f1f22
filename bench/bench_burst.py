"""N alerts on `* * * * *` in a real systemd user manager: what a burst of ticks costs.

For each configuration (N alerts; SQLite or PostgreSQL state; with or without `jitter`)
the alerts are installed with `install-units --user`, three minute ticks pass, and then:

* CPU-s per minute: the whole machine's busy CPU time (from /proc/stat) over the ticks;
* lateness p50/p99: the run's process launch minus its timer's elapse (history);
* tick done after: the last run of each tick finished this long after the minute;
* runs recorded / expected (3 x N), how many a later run recorded (spooled), failed units.

Run as root on an otherwise idle machine: `python bench/bench_burst.py --alerts 100 300 500
[--state sqlite postgresql] [--jitter 0 50]`. Each configuration takes about four minutes.
"""

from __future__ import annotations

import argparse
import itertools
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_server import pg_server
from user_manager import user_manager

TICKS = 3


def _busy_cpu() -> float:
    """Busy CPU seconds of the whole machine so far (all cores)."""
    import os

    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _config(base: Path, alerts: int, state: str, jitter: int) -> Path:
    target = base / "target.db"
    sqlite3.connect(target).close()
    lines = [f"database:\n  url: sqlite:///{target}", f"state_db: {state}", "alerts:"]
    for i in range(alerts):
        lines += [f"  - name: burst_{i:04d}", "    query: SELECT 'OK' AS status",
                  "    schedule: '* * * * *'"]  # fmt: skip
        if jitter:
            lines.append(f"    jitter: {jitter}s")
    path = base / "alerts.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _history(
    state: str, since: datetime, until: datetime
) -> list[tuple[datetime, datetime, datetime, bool]]:
    """(scheduled, launched, finished, spooled) of every timer-started run scheduled in
    [`since`, `until`)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sqlsentinel.errors import StateDBError
    from sqlsentinel.state.db import StateDB

    for attempt in range(60):  # the runs may hold every connection slot for a while
        try:
            with StateDB(state).read() as tx:
                rows = tx.all(
                    "SELECT scheduled_at, launched_at, finished_at, spooled FROM history "
                    "WHERE triggered_by = 'CRON' AND scheduled_at >= ? AND scheduled_at < ?",
                    (since, until),
                )
            break
        except StateDBError:
            if attempt == 59:
                raise
            time.sleep(1)
    return [
        (r["scheduled_at"], r["launched_at"], r["finished_at"], bool(r["spooled"])) for r in rows
    ]


def run_one(alerts: int, state_kind: str, jitter: int, pg_root: str | None) -> dict[str, object]:
    with user_manager() as (_pid, base, env):
        state = f"sqlite:///{base / 'state.db'}" if pg_root is None else pg_root
        config = _config(base, alerts, state, jitter)
        cli = [sys.executable, "-m", "sqlsentinel"]
        subprocess.run([*cli, "init", str(config)], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*cli, "install-units", "--user", str(config)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        now = datetime.now(UTC)
        first = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
        while datetime.now(UTC) < first - timedelta(seconds=2):
            time.sleep(0.5)
        cpu0, t0 = _busy_cpu(), time.monotonic()
        end = first + timedelta(minutes=TICKS)
        while datetime.now(UTC) < end - timedelta(seconds=1):
            time.sleep(0.5)
        cpu = _busy_cpu() - cpu0
        minutes = (time.monotonic() - t0) / 60
        deadline = time.monotonic() + 240  # let the last tick finish
        expected = alerts * TICKS
        while time.monotonic() < deadline and len(_history(state, first, end)) < expected:
            time.sleep(2)
        rows = _history(state, first, end)
        listing = ["systemctl", "--user", "list-units", "--failed", "--plain", "--no-legend"]
        failed = subprocess.run(
            [*listing, "sqlsentinel-*"], env=env, capture_output=True, text=True
        ).stdout.count(".service")
    late = sorted((launched - scheduled).total_seconds() for scheduled, launched, _, _ in rows)
    done_after = []
    for k in range(TICKS):
        minute = first + timedelta(minutes=k)
        ends = [f for s, _, f, _ in rows if minute <= s < minute + timedelta(minutes=1)]
        done_after.append((max(ends) - minute).total_seconds() if ends else float("nan"))
    return {
        "alerts": alerts,
        "state": state_kind,
        "jitter": jitter,
        "cpu_s_per_min": cpu / minutes,
        "late_p50": statistics.median(late) if late else float("nan"),
        "late_p99": late[int(0.99 * (len(late) - 1))] if late else float("nan"),
        "done_after": max(done_after),
        "recorded": len(rows),
        "expected": expected,
        "spooled": sum(1 for *_, spooled in rows if spooled),
        "failed_units": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, nargs="+", default=[100, 300, 500])
    parser.add_argument("--state", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--jitter", type=int, nargs="+", default=[0, 50])
    args = parser.parse_args()
    head = (
        f"{'N':>4} {'state':<10} {'jitter':>6} {'CPU-s/min':>9} {'late p50':>8} "
        f"{'late p99':>8} {'done after':>10} {'recorded':>11} {'spooled':>7} {'failed':>6}"
    )
    print(head)
    for alerts, kind, jitter in itertools.product(args.alerts, args.state, args.jitter):
        if kind == "postgresql":
            with pg_server(max_connections=100) as root:
                r = run_one(alerts, kind, jitter, f"{root}/bench")
        else:
            r = run_one(alerts, kind, jitter, None)
        print(f"{r['alerts']:>4} {r['state']:<10} {r['jitter']:>6} {r['cpu_s_per_min']:>9.1f} "
              f"{r['late_p50']:>7.1f}s {r['late_p99']:>7.1f}s {r['done_after']:>9.1f}s "
              f"{r['recorded']:>5}/{r['expected']:<5} {r['spooled']:>7} {r['failed_units']:>6}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
