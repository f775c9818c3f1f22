"""The daemon's probe port under attack, while its local backend fires a check every minute.

Run: `python bench/bench_probe_port.py [--idle 200] [--slow 50] [--huge 20] [--ticks 2]
[--nofile 256] [--repo DIR] [--json]`. It starts `sqlsentinel daemon --backend local --port`
(from `--repo`, default this checkout) with its file limit at `--nofile`, and attacks the
port with real sockets until `--ticks` minute checks have started after the attack began:

- `--idle` connections that send nothing (each reopened when the server closes it);
- `--slow` slowloris clients: a request line, then one header byte a second, never done;
- `--huge` clients that send 5.7 MB of headers (99 lines of 58 KB), then stall.

Meanwhile it asks GET /health every half second (2 s timeout) and samples the daemon's RSS
and open descriptors. It prints: connections the attackers held open and the daemon's
descriptors (max), its RSS (max), /health answers (ok / asked, slowest), each check's
lateness (`late_ms` of `check started`), and the log's tracebacks and `check not started`
lines. The test tests/daemon/test_probe_port.py runs it with bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import selectors
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = """\
database:
  url: sqlite:///target.db
alerts:
  - name: tick
    query: SELECT 'OK' AS status
    schedule: "* * * * *"
"""
HEADER = b"X-Filler: " + b"a" * 58_000 + b"\r\n"


class Attack:
    """The attacking clients, each group in its own thread; `held()` counts live sockets."""

    def __init__(self, port: int, idle: int, slow: int, huge: int) -> None:
        self.port, self.stop = port, threading.Event()
        self._held: dict[str, int] = {"idle": 0, "slow": 0, "huge": 0}
        self.threads = [
            threading.Thread(target=self._keep, args=("idle", idle, b""), daemon=True),
            threading.Thread(target=self._keep, args=("slow", slow, b"X"), daemon=True),
        ]
        self.threads += [threading.Thread(target=self._huge, daemon=True) for _ in range(huge)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def held(self) -> int:
        return sum(self._held.values())

    def _open(self) -> socket.socket | None:
        try:
            return socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            return None

    def _keep(self, kind: str, count: int, drip: bytes) -> None:
        """Keep `count` connections open; each sends `drip` once a second (nothing if b"")."""
        sel = selectors.DefaultSelector()
        while not self.stop.is_set():
            while len(sel.get_map()) < count and not self.stop.is_set():
                s = self._open()
                if s is None:
                    time.sleep(0.05)
                    continue
                if drip:
                    s.sendall(b"GET /health HTTP/1.1\r\nX-Slow: ")
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ)
            self._held[kind] = len(sel.get_map())
            for key, _ in sel.select(timeout=1.0):  # the server answered or closed: reopen
                sel.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
            for key in list(sel.get_map().values()) if drip else []:
                try:
                    key.fileobj.send(drip)  # type: ignore[union-attr]
                except OSError:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()  # type: ignore[union-attr]
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    def _huge(self) -> None:
        while not self.stop.is_set():
            s = self._open()
            if s is None:
                time.sleep(0.1)
                continue
            try:
                s.settimeout(30)
                s.sendall(b"GET /health HTTP/1.1\r\n" + HEADER * 99)  # and never the blank line
                self._held["huge"] += 1
                self.stop.wait(60)  # stalled
                self._held["huge"] -= 1
            except OSError:
                time.sleep(0.1)  # refused: try again
            finally:
                s.close()


def _health(port: int) -> float | None:
    began = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return time.monotonic() - began if r.status == 200 else None
    except OSError:
        return None


def _proc(pid: int) -> tuple[float, int]:
    """RSS (MiB) and open descriptors of `pid`."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def _start_daemon(work: Path, repo: Path, port: int, nofile: int) -> subprocess.Popen[bytes]:
    (work / "alerts.yaml").write_text(CONFIG)
    sqlite3.connect(work / "target.db").close()
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "STATE_DIRECTORY": str(work / "state"),
        "SQLSENTINEL_CACHE_DIR": str(work / "c"),
        "RUNTIME_DIRECTORY": str(work),
    }

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    cmd = [
        sys.executable,
        "-m",
        "sqlsentinel",
        "daemon",
        "alerts.yaml",
        "--backend",
        "local",
        "--no-reload",
        "--port",
        str(port),
    ]
    log = open(work / "daemon.log", "wb")  # noqa: SIM115  (closed with the process)
    return subprocess.Popen(
        cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit
    )


def measure(args: argparse.Namespace) -> dict[str, object]:
    """Attack a fresh daemon; the figures."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    work = Path(tempfile.mkdtemp(prefix="sqlsentinel-probe-"))
    work.chmod(0o700)
    daemon = _start_daemon(work, Path(args.repo), port, args.nofile)
    deadline = time.monotonic() + 60
    while _health(port) is None:
        assert time.monotonic() < deadline and daemon.poll() is None, "the daemon did not start"
        time.sleep(0.2)
    log = work / "daemon.log"
    before = log.read_text(errors="replace").count("check started")
    attack = Attack(port, args.idle, args.slow, args.huge)
    attack.start()
    asked, answers, rss, fds, held = 0, [], [], [], []
    end = time.monotonic() + 65 * args.ticks + 20
    while time.monotonic() < end and daemon.poll() is None:
        started = log.read_text(errors="replace").count("check started") - before
        if started >= args.ticks:
            break
        asked += 1
        answers.append(_health(port))
        r, f = _proc(daemon.pid)
        rss.append(r), fds.append(f), held.append(attack.held())
        time.sleep(0.5)
    attack.stop.set()
    text = log.read_text(errors="replace")
    daemon.terminate()
    daemon.wait(timeout=30)
    late = [int(m) for m in re.findall(r"check started alert='tick' .*late_ms=(\d+)", text)]
    ok = [a for a in answers if a is not None]
    return {
        "attackers_held_max": max(held, default=0),
        "daemon_fds_max": max(fds, default=0),
        "daemon_rss_mib_max": round(max(rss, default=0), 1),
        "health_ok": len(ok),
        "health_asked": asked,
        "health_slowest_s": round(max(ok, default=0), 3),
        "checks_late_ms": late[-args.ticks :],
        "checks_started_during": len(late) - before,
        "tracebacks": text.count("Traceback"),
        "checks_not_started": text.count("check not started"),
        "exit": daemon.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--huge", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=2)
    parser.add_argument("--nofile", type=int, default=256)
    parser.add_argument("--repo", default=str(REPO))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; attack: {args.idle} idle,"
        f" {args.slow} slowloris, {args.huge} x 5.7 MB headers; nofile {args.nofile}"
    )
    for key, value in figures.items():
        print(f"{key:24} {value}")


if __name__ == "__main__":
    main()
