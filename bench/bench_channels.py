"""The CPU of a timer tick that notifies each HTTP channel, beside the silent tick.

Each case is `sqlsentinel run CONFIG --alert x --triggered-by CRON` with a warm spec
cache, SQLite target and state, in a fresh process (CPU from wait4, peak RSS from GNU
time, as bench_tick.py measures). `silent` runs a query that finds nothing; every other
case fires and repeats on every tick (`repeat_interval: 1ms`) to one target of that
channel, answered by a local server as the provider answers (202 and its JSON).
Usage: `python bench/bench_channels.py [-n 21]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tick import FIRING, QUERY, REPO, measure

TARGETS = {
    "webhook": "{{channel: webhook, url: '{base}/hook'}}",
    "pagerduty": "{{channel: pagerduty, routing_key: R0UTINGkey0123456789abcdefABCDEF, "
    "url: '{base}'}}",
}


class _Provider(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        _Provider.received += 1
        answer = json.dumps({"status": "success", "dedup_key": body.get("dedup_key")}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


def _config(path: Path, target: Path, state: Path, notify: str | None) -> None:
    query = FIRING if notify else QUERY
    lines = [f"database:\n  url: sqlite:///{target}", f"state_db: sqlite:///{state}", "alerts:",
             "  - name: x", f'    query: "{query}"', "    schedule: '* * * * *'"]  # fmt: skip
    if notify:
        lines += ["    repeat_interval: 1ms", f"    notify: [{notify}]"]
    path.write_text("\n".join(lines) + "\n")


def bench(tmp: Path, repetitions: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    target = tmp / "target.db"
    with sqlite3.connect(target) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50)])
    cases: dict[str, list[str]] = {}
    for name in ("silent", *TARGETS):
        notify = TARGETS[name].format(base=base) if name in TARGETS else None
        _config(tmp / f"{name}.yaml", target, tmp / f"{name}.db", notify)
        cases[name] = [sys.executable, "-m", "sqlsentinel", "run", str(tmp / f"{name}.yaml"),
                       "--alert", "x", "--triggered-by", "CRON"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLSENTINEL_")}
    env.update(PYTHONPATH=str(REPO), SQLSENTINEL_CACHE_DIR=str(tmp / "cache"))
    for argv in cases.values():  # warm the spec cache and the state databases
        measure(argv, env, tmp)
    runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
    for _ in range(repetitions):
        for name, argv in cases.items():
            runs[name].append(measure(argv, env, tmp))
    server.shutdown()
    assert _Provider.received == len(TARGETS) * (repetitions + 1), _Provider.received
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in runs.items()}
    print(f"python {sys.version.split()[0]}, {repetitions} interleaved repetitions")
    print(f"{'case':<12} {'CPU ms':>8} {'wall ms':>8} {'peak RSS MiB':>13} {'vs silent':>10}")
    for name, (cpu, wall, rss) in med.items():
        ratio = cpu / med["silent"][0]
        print(f"{name:<12} {cpu * 1000:>8.1f} {wall * 1000:>8.1f} {rss:>13.1f} {ratio:>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repetitions", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqlsentinel-bench-") as name:
        bench(Path(name), args.repetitions)


if __name__ == "__main__":
    main()
