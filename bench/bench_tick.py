"""The cost of one timer tick, beside its floor, in one interleaved run.

A tick is `sqlsentinel run CONFIG --alert X --triggered-by CRON` with a warm spec cache.
Each case runs in a fresh process; CPU (user + system), wall time and peak RSS come from
wait4's rusage. Cases, interleaved so that drift hits them alike:

* `python`: `python -c pass` (the interpreter alone, for reference);
* `floor-sqlite`: `python -c` running the same query with the stdlib `sqlite3`;
* `tick-sqlite`: SQLite target and state, trivial query, no notification;
* `tick-sqlite-1000`: the same alert in a 1,000-alert config;
* `tick-webhook`: the same, but every tick notifies one webhook (a local HTTP server);
* `floor-webhook`: `floor-sqlite` plus one JSON POST to that server with the stdlib
  `http.client` (what any notifying tick pays at least: http.client loads ssl and email);
* `floor-pg`: `python -c` importing psycopg and running the query on PostgreSQL;
* `tick-pg`: PostgreSQL target and state.

Targets (docs/architecture.md): tick-sqlite <= 3x floor-sqlite in CPU and <= 20 MiB peak
RSS; tick-pg <= 1.5x floor-pg in CPU; tick-sqlite-1000 <= 1.1x tick-sqlite; tick-webhook
<= 1.2x tick-sqlite (beside it, the webhook's own cost is set against the floor's).
Usage (root, for the PostgreSQL server): `python bench/bench_tick.py [-n 21]`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_server import pg_server

REPO = Path(__file__).resolve().parent.parent
QUERY = "SELECT CASE WHEN count(*) > 100 THEN 'ALERT' ELSE 'OK' END AS status FROM t"
FIRING = QUERY.replace("> 100", "> 10")  # the webhook case: firing, a repeat every tick
TARGETS = {
    ("tick-sqlite", "floor-sqlite"): 3.0,
    ("tick-pg", "floor-pg"): 1.5,
    ("tick-sqlite-1000", "tick-sqlite"): 1.1,
    ("tick-webhook", "tick-sqlite"): 1.2,
}
RSS_TARGET_MIB = 20.0


class _Hook(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Hook.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _config(path: Path, target: str, state: str, alerts: int, notify: str = "") -> None:
    lines = [f"database:\n  url: {target}", f"state_db: {state}", "alerts:"]
    for i in range(alerts):
        query = FIRING if notify else QUERY
        lines += [f"  - name: {'x' if i == 0 else f'alert_{i:04d}'}", f'    query: "{query}"',
                  f"    schedule: '{i % 60} * * * *'", "    tags: [bench]"]  # fmt: skip
        if i == 0 and notify:
            lines += [
                "    repeat_interval: 1ms",
                f"    notify: [{{channel: webhook, url: '{notify}'}}]",
            ]
    path.write_text("\n".join(lines) + "\n")


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """CPU seconds, wall seconds and peak RSS (MiB) of one child process.

    GNU time runs it and reports its peak RSS: a child forked from this (much larger)
    process would report this process's memory as its own peak, because Linux counts the
    copy it was before exec. CPU and wall come from wait4 (microseconds; GNU time's own
    share, about a millisecond, is in every case alike).
    """
    report = cwd / ".time"
    t0 = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-o", str(report), "-f", "%M", *argv], env=env,
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed:\n{err}")
    return usage.ru_utime + usage.ru_stime, wall, int(report.read_text().split()[-1]) / 1024


def _cases(tmp: Path, pg: str, hook: str) -> dict[str, list[str]]:
    target = tmp / "target.db"
    with sqlite3.connect(target) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50)])
    table = "CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 50)"
    subprocess.run(["psql", pg, "-qc", table], check=True)
    sqlite_target = f"sqlite:///{target}"
    _config(tmp / "one.yaml", sqlite_target, f"sqlite:///{tmp}/s1.db", 1)
    _config(tmp / "many.yaml", sqlite_target, f"sqlite:///{tmp}/s2.db", 1000)
    _config(tmp / "hook.yaml", sqlite_target, f"sqlite:///{tmp}/s3.db", 1, notify=hook)
    _config(tmp / "pg.yaml", pg, pg, 1)
    py = sys.executable
    tick = [py, "-m", "sqlsentinel", "run"]
    cron = ["--alert", "x", "--triggered-by", "CRON"]
    return {
        "python": [py, "-c", "pass"],
        "floor-sqlite": [
            py,
            "-c",
            f"import sqlite3\nc = sqlite3.connect({str(target)!r})\n"
            f"c.execute({QUERY!r}).fetchall()",
        ],
        "tick-sqlite": [*tick, str(tmp / "one.yaml"), *cron],
        "tick-sqlite-1000": [*tick, str(tmp / "many.yaml"), *cron],
        "tick-webhook": [*tick, str(tmp / "hook.yaml"), *cron],
        "floor-webhook": [py, "-c", _floor_webhook(target, hook)],
        "floor-pg": [
            py,
            "-c",
            f"import psycopg\nc = psycopg.connect({pg!r})\nc.execute({QUERY!r}).fetchall()",
        ],
        "tick-pg": [*tick, str(tmp / "pg.yaml"), *cron],
    }


def _floor_webhook(target: Path, hook: str) -> str:
    """`floor-sqlite`, then the least a notifying tick must do: one POST, its answer read."""
    port = hook.split(":")[-1].split("/")[0]
    return (
        f"import sqlite3, http.client, json\nc = sqlite3.connect({str(target)!r})\n"
        f"rows = c.execute({QUERY!r}).fetchall()\n"
        f"h = http.client.HTTPConnection('127.0.0.1', {port}, timeout=10)\n"
        "h.request('POST', '/hook', body=json.dumps({'rows': rows}).encode(),\n"
        "          headers={'Content-Type': 'application/json'})\n"
        "h.getresponse().read()"
    )


def bench(tmp: Path, repetitions: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with pg_server() as pg_root:
        cases = _cases(tmp, f"{pg_root}/bench", hook)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SQLSENTINEL_")}
        env.update(PYTHONPATH=str(REPO), SQLSENTINEL_CACHE_DIR=str(tmp / "cache"),
                   STATE_DIRECTORY=str(tmp / "state"))  # fmt: skip
        for argv in cases.values():  # warm the spec cache, the state databases, the page cache
            measure(argv, env, tmp)
        runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
        for _ in range(repetitions):
            for name, argv in cases.items():
                runs[name].append(measure(argv, env, tmp))
    server.shutdown()
    assert _Hook.received == 2 * (repetitions + 1), _Hook.received  # every POST arrived
    _report(runs, repetitions)


def _report(runs: dict[str, list[tuple[float, float, float]]], repetitions: int) -> None:
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in runs.items()}
    print(f"python {sys.version.split()[0]}, {repetitions} interleaved repetitions, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'case':<18} {'CPU ms':>8} {'wall ms':>8} {'peak RSS MiB':>13}")
    for name, (cpu, wall, rss) in med.items():
        print(f"{name:<18} {cpu * 1000:>8.1f} {wall * 1000:>8.1f} {rss:>13.1f}")
    for (case, base), target in TARGETS.items():
        ratio = med[case][0] / med[base][0]
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"CPU {case} / {base}: {ratio:.2f}x (target <= {target}x) {verdict}")
    own = (med["tick-webhook"][0] - med["tick-sqlite"][0]) * 1000
    floor = (med["floor-webhook"][0] - med["floor-sqlite"][0]) * 1000
    print(f"a webhook's own CPU: {own:.1f} ms in a tick, {floor:.1f} ms at the floor")
    rss = med["tick-sqlite"][2]
    above = rss - med["python"][2]
    verdict = "ok" if rss <= RSS_TARGET_MIB else "MISSED"
    print(
        f"peak RSS tick-sqlite: {rss:.1f} MiB (target <= {RSS_TARGET_MIB}) {verdict}; "
        f"{above:.1f} MiB above the bare interpreter"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repetitions", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqlsentinel-bench-") as name:
        bench(Path(name), args.repetitions)


if __name__ == "__main__":
    main()
