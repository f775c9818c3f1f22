"""Benchmark `sqlsentinel daemon`: idle cost beside SQL Sentinel 0.1.0, apply latency, fire latency.

Run as root: `python bench/bench_daemon.py [--idle-seconds 60] [--edits 20] [--ticks 100]
[--minute-ticks 2] [--original-venv DIR]`. It prints:

1. idle RSS and CPU over `--idle-seconds` of three daemons on the same 50-alert config
   (no alert fires in the window): SQL Sentinel 0.1.0's `sqlsentinel daemon --reload`
   (`pip install sqlsentinel==0.1.0` into a scratch venv outside the repository), ours with
   the local backend, and ours with the systemd backend in a real `systemd --user`;
2. latency from a config write to the new alert's timer active in that manager (median, max
   over `--edits` writes, each adding one alert; polled every 20 ms);
3. local backend fire latency, scheduled instant -> the check's `started_at` (the run's
   recorded start, just before its query), p50/p99: over `--ticks` ticks of a synthetic
   every-2-second job driven through the real loop, runner and `sqlsentinel run` (cron's
   finest tick is a minute), and over `--minute-ticks` real minute ticks of 10 alerts on
   `* * * * *` (a burst of 10 checks at once). The loop's own part (scheduled instant ->
   child spawned) is printed too.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "systemd")]  # this checkout, the test harness
from systemd_harness import NAMESPACE_SCRIPT, UserManager, wait_running  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def config_text(count: int, database: str | None = None, schedule: str | None = None) -> str:
    """`count` alerts, by default at MM past an hour 12 h away (none fires in the window);
    without `database` the file is one SQL Sentinel 0.1.0 reads too (DATABASE_URL)."""
    hour = (datetime.now(UTC).hour + 12) % 24
    head = f"database:\n  url: {database}\n" if database else ""
    alerts = "".join(
        f"  - name: alert_{i:03d}\n    query: SELECT 'OK' AS status\n"
        f'    schedule: "{schedule or f"{i % 60} {hour} * * *"}"\n    notify: []\n'
        for i in range(count)
    )
    return f"{head}alerts:\n{alerts}"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def original_venv(given: str | None) -> Path | None:
    """A venv with sqlsentinel 0.1.0 (created in a scratch folder when not given)."""
    if given:
        return Path(given)
    venv = Path(tempfile.mkdtemp(prefix="sqs-0.1.0-")) / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", "sqlsentinel==0.1.0"], capture_output=True
    )
    if done.returncode != 0:
        print("sqlsentinel 0.1.0 could not be installed from PyPI:", done.stderr.decode()[-300:])
        return None
    return venv


def measure_idle(procs: dict[str, int], seconds: float, warmup: float = 5.0) -> None:
    time.sleep(warmup)
    start = {name: cpu_seconds(pid) for name, pid in procs.items()}
    time.sleep(seconds)
    print(f"\n1. idle, 50 alerts, over {seconds:g} s (after {warmup:g} s to settle)")
    print(f"   {'daemon':44} {'RSS MiB':>8} {'CPU s':>7} {'CPU %':>6}")
    for name, pid in procs.items():
        cpu = cpu_seconds(pid) - start[name]
        print(f"   {name:44} {rss_mib(pid):8.1f} {cpu:7.3f} {100 * cpu / seconds:6.2f}")


def start_manager(base: Path) -> tuple[subprocess.Popen[bytes], UserManager]:
    (base / "run").mkdir(mode=0o700, parents=True)
    (base / "home").mkdir()
    env = {
        "PATH": os.environ["PATH"], "HOME": str(base / "home"), "BASE": str(base),
        "XDG_CONFIG_HOME": str(base / "home/.config"), "XDG_RUNTIME_DIR": str(base / "run"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={base / 'run/bus'}", "PYTHONPATH": str(REPO),
        "STATE_DIRECTORY": str(base / "state"), "LANG": "C.UTF-8",
    }  # fmt: skip
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    manager = UserManager(proc.pid, base, env)
    wait_running(manager, time.monotonic() + 20)
    return proc, manager


def apply_latency(manager: UserManager, config: Path, edits: int) -> None:
    from sqlsentinel.applied.unit_names import unit_base

    text, took = config.read_text(), []
    for k in range(edits):
        text += f"  - name: added_{k}\n    query: SELECT 1\n    schedule: '5 4 * * *'\n"
        timer = unit_base(f"added_{k}") + ".timer"
        config.write_text(text)
        written = time.monotonic()
        while manager.show(timer, "ActiveState")["ActiveState"] != "active":
            if time.monotonic() - written > 30:
                raise RuntimeError(f"{timer} not active after 30 s")
            time.sleep(0.02)
        took.append(time.monotonic() - written)
        time.sleep(0.5)
    print(f"\n2. config write -> new timer active (systemd backend, {edits} edits)")
    print(f"   median {statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms")


def lateness(state_db: Path) -> list[float]:
    with sqlite3.connect(state_db) as db:
        rows = db.execute("SELECT scheduled_at, started_at FROM history").fetchall()
    return [
        (datetime.fromisoformat(s) - datetime.fromisoformat(p)).total_seconds() * 1000
        for p, s in rows
    ]


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49]:.0f} ms, p99 {q[98]:.0f} ms, max {max(values):.0f} ms (n={len(values)})"


def fire_latency(work: Path, ticks: int, minute_ticks: int) -> None:
    """The synthetic every-2-second job, then real minute ticks, through the real daemon."""
    import logging
    import re

    from sqlsentinel.daemon.jobs import Job
    from sqlsentinel.daemon.setup import DaemonOptions, build

    spawned: list[float] = []

    class Spawns(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found = re.search(r"late_ms=(\d+)", record.getMessage())
            if found:
                spawned.append(float(found.group(1)))

    logging.getLogger("sqlsentinel.daemon").addHandler(Spawns())
    logging.getLogger("sqlsentinel.daemon").setLevel(logging.INFO)
    for phase, count in (("synthetic", ticks), ("minute", minute_ticks)):
        if count == 0:
            continue
        folder = work / phase
        folder.mkdir()
        sqlite3.connect(folder / "t.db").close()
        alerts = 1 if phase == "synthetic" else 10
        config = folder / "alerts.yaml"
        config.write_text(config_text(alerts, f"sqlite:///{folder}/t.db", "* * * * *"))
        state = f"sqlite:///{folder}/s.db"
        options = DaemonOptions(str(config), state, backend="local", watch=False)
        os.environ.update(STATE_DIRECTORY=str(folder / "state"), RUNTIME_DIRECTORY=str(folder))
        sup = build(options, os.environ)
        sup.start()
        now = datetime.now(UTC)
        if phase == "synthetic":  # replace the minute schedule by one every 2 s
            first = now.replace(microsecond=0) + timedelta(seconds=2)

            class Every2s(Job):
                def next_after(self, t: datetime, first: datetime = first) -> datetime:
                    n = int((t - first).total_seconds() // 2) + 1 if t >= first else 0
                    return first + timedelta(seconds=2 * n)

            real = sup.backend.jobs["alert_000"]  # type: ignore[attr-defined]
            job = Every2s(real.name, real.timer, True, real.command)
            sup.backend.scheduler.set_jobs([job], now)  # type: ignore[attr-defined]
            seconds = 2 * count + 3
        else:
            seconds = (60 - now.second) + 60 * (count - 1) + 8
        spawned.clear()
        signal.signal(signal.SIGCHLD, lambda *_, sup=sup: sup.wake())
        threading.Timer(seconds, sup.stop).start()
        sup.run()
        values = lateness(folder / "s.db")
        label = f"{count} ticks of a synthetic 2 s job"
        if phase == "minute":
            label = f"{count} minute ticks x 10 alerts"
        print(f"\n3. local fire latency, {label}")
        print(f"   scheduled -> run started: {percentiles(values)}")
        print(f"   scheduled -> child spawned (the loop): {percentiles(spawned)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--minute-ticks", type=int, default=2)
    parser.add_argument("--original-venv")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sqs-bench-"))
    sqlite3.connect(work / "target.db").close()
    (work / "alerts.yaml").write_text(config_text(50))
    env = {
        **os.environ, "DATABASE_URL": f"sqlite:///{work}/target.db", "PYTHONPATH": str(REPO),
        "STATE_DIRECTORY": str(work / "state"), "RUNTIME_DIRECTORY": str(work),
    }  # fmt: skip
    venv = original_venv(args.original_venv)
    proc, manager = start_manager(work / "manager")
    daemons: dict[str, subprocess.Popen[bytes]] = {}
    try:
        start_daemons(daemons, work, env, venv, manager)
        measure_idle({n: p.pid for n, p in daemons.items()}, args.idle_seconds)
        systemd_daemon = daemons.pop(SYSTEMD)
        for p in daemons.values():
            p.terminate()
        apply_latency(manager, work / "user.yaml", args.edits)
        systemd_daemon.terminate()
        systemd_daemon.wait()
        fire_latency(work, args.ticks, args.minute_ticks)
    finally:
        for p in daemons.values():
            if p.poll() is None:
                p.kill()
        proc.send_signal(signal.SIGTERM)
        proc.wait()


SYSTEMD = "ours, systemd backend (user manager)"


def start_daemons(
    daemons: dict[str, subprocess.Popen[bytes]],
    work: Path,
    env: dict[str, str],
    venv: Path | None,
    manager: UserManager,
) -> None:
    """0.1.0 and ours (local) on alerts.yaml, ours (systemd) on user.yaml in the manager."""
    ours = [sys.executable, "-m", "sqlsentinel", "daemon"]
    log = open(work / "daemons.log", "w")  # noqa: SIM115  (kept open while they run)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": log}
    if venv is not None:
        daemons["SQL Sentinel 0.1.0 (daemon --reload, APScheduler)"] = subprocess.Popen(
            [str(venv / "bin/sqlsentinel"), "daemon", str(work / "alerts.yaml"), "--reload",
             "--state-db", f"sqlite:///{work}/orig.db", "--port", "18765"],
            env={k: v for k, v in env.items() if k != "PYTHONPATH"}, **quiet,
        )  # fmt: skip
    daemons["ours, local backend"] = subprocess.Popen(
        [*ours, str(work / "alerts.yaml"), "--backend", "local",
         "--state-db", f"sqlite:///{work}/local.db"],
        env=env, **quiet,
    )  # fmt: skip
    (work / "user.yaml").write_text(config_text(50, f"sqlite:///{work}/target.db"))
    daemons[SYSTEMD] = subprocess.Popen(
        [*ours, str(work / "user.yaml"), "--user", "--backend", "systemd",
         "--state-db", f"sqlite:///{work}/user.db"],
        env={**manager.env, "RUNTIME_DIRECTORY": str(work / "manager")}, **quiet,
    )  # fmt: skip


if __name__ == "__main__":
    main()
