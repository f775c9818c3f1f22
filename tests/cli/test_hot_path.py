"""The import budget of a timer tick (`sqlsentinel run CONFIG --alert X --triggered-by CRON`).

With a warm spec cache a tick never loads the validator, the unit generator, jinja2,
croniter, pydantic, PyYAML or SQLAlchemy: a SQLite tick uses the stdlib `sqlite3`, a
PostgreSQL tick psycopg 3, and only a tick that delivers loads the HTTP client (for an
unsigned webhook without a proxy never jinja2, smtplib, OpenSSL's hashlib or urllib.request).
Its budget (docs/architecture.md, "A tick pays only for what it uses"), measured by
bench/bench_tick.py: a SQLite tick <= 3x the CPU of `python -c` with `sqlite3` and <= 20 MiB
peak RSS, a PostgreSQL tick <= 1.5x its psycopg floor, 1,000 alerts <= 1.1x one. The tick
the units run (`--applied`, the command line of the timetable, started as a timer starts
it) checks its applied copy without OpenSSL and stays within the 20 MiB.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from notify.servers import HookServer
from support import Cli

from sqlsentinel.notify.channels import CHANNELS

NEVER = (
    "pydantic", "yaml", "jinja2", "croniter", "sqlalchemy",
    "sqlsentinel.config.loader", "sqlsentinel.config.models", "sqlsentinel.schedule.translate",
    "sqlsentinel.schedule.dst", "sqlsentinel.schedule.oncalendar", "sqlsentinel.schedule.preview",
    "sqlsentinel.systemd", "sqlsentinel.daemon",
)  # fmt: skip
ONLY_TO_DELIVER = ("sqlsentinel.notify", "http.client", "smtplib", "ssl", "email")
ONLY_FOR_POSTGRESQL = ("psycopg",)
ONLY_FOR_KEYED = (
    "sqlsentinel.core.instances", "sqlsentinel.core.grouped", "sqlsentinel.engine.keyed_query",
    "sqlsentinel.engine.keyed_run", "sqlsentinel.state.instances",
)  # fmt: skip

NOTIFY = """\
    notify:
      - channel: slack
        channel: "#ops"
        webhook_url: http://127.0.0.1:9/services/T/B/x
      - channel: webhook
        url: http://127.0.0.1:9/hook
      - channel: email
        recipients: [ops@example.com]
      - channel: pagerduty
        routing_key: R0UTINGkey0123456789abcdefABCDEF
        url: http://127.0.0.1:9
"""


def _imported(stderr: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^import time:.*\|\s*([\w.]+)$", stderr, re.M)}


def _interpreter_start(python: str, env: dict[str, str], cwd: Path) -> set[str]:
    """What the interpreter itself imports before any code runs (its site's .pth files):
    not the tick's to answer for."""
    bare = subprocess.run(
        [python, "-X", "importtime", "-c", "pass"], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return _imported(bare.stderr)


def _among(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def _warm_tick(cli: Cli, config: Path, alert: str, *env: str) -> set[str]:
    """The modules a tick imports once the spec cache is warm (the first run fills it)."""
    cli.argv = [*cli.argv[:1], "-X", "importtime", *cli.argv[1:]]
    cold = cli("run", config, "--alert", alert, "--triggered-by", "CRON")
    assert cold.rc in (0, 5), cold.stderr
    assert "pydantic" in _imported(cold.stderr)  # the first run validates and compiles
    warm = cli("run", config, "--alert", alert, "--triggered-by", "CRON")
    assert warm.rc in (0, 5), warm.stderr
    modules = _imported(warm.stderr)
    assert "sqlsentinel.engine.run" in modules
    return modules


def test_sqlite_tick_imports_only_what_it_needs(cli: Cli, tmp_path: Path) -> None:
    """Every channel kind in the file, none due: the tick takes its alert from the cache,
    also when another alert is broken (it reads a variable that is not set)."""
    assert set(re.findall(r"- channel: (\w+)", NOTIFY)) == set(CHANNELS)  # every kind, always
    alerts = "".join(
        f"  - name: a{i}\n    query: SELECT 'OK' AS status\n    schedule: '*/5 * * * *'\n{NOTIFY}"
        for i in range(200)
    )
    alerts += NOTIFY.replace("http://127.0.0.1:9/hook", "${HOT_PATH_UNSET}").replace(
        "    notify:\n",
        "  - name: broken\n    query: SELECT 1\n    schedule: '0 * * * *'\n    notify:\n",
    )
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    smtp = "smtp:\n  host: 127.0.0.1\n"
    config.write_text(f"database:\n  url: sqlite:///t.db\nstate_db: s.db\n{smtp}alerts:\n{alerts}")
    modules = _warm_tick(cli, config, "a7")
    assert "sqlite3" in modules
    heartbeat = "sqlsentinel.engine.heartbeat"  # only for alerts with a heartbeat_url
    wcwidth = "wcwidth"  # an ASCII table is measured without it
    never = (*NEVER, *ONLY_TO_DELIVER, *ONLY_FOR_POSTGRESQL, *ONLY_FOR_KEYED, "zoneinfo", heartbeat,
             wcwidth)  # fmt: skip
    assert _among(modules, never) == []


def test_postgresql_tick_uses_psycopg_without_sqlalchemy(
    cli: Cli, tmp_path: Path, pg_url: str
) -> None:
    config = tmp_path / "alerts.yaml"
    config.write_text(
        f"database:\n  url: {pg_url}\nstate_db: {pg_url}\nalerts:\n"
        "  - name: pg\n    query: SELECT 'OK' AS status\n    schedule: '* * * * *'\n"
    )
    modules = _warm_tick(cli, config, "pg")
    assert "psycopg" in modules  # which loads `email`, `ssl` and `zoneinfo` for itself
    assert _among(modules, (*NEVER, "sqlsentinel.notify", "http.client", "smtplib")) == []


HTTP_TARGETS = {
    "webhook": "{{channel: webhook, url: '{url}/hook'}}",
    "pagerduty": "{{channel: pagerduty, routing_key: R0UTINGkey0123456789abcdefABCDEF, "
    "url: '{url}'}}",
}


@pytest.mark.parametrize("channel", sorted(HTTP_TARGETS))
def test_http_channel_tick_loads_the_http_client_only(
    cli: Cli, tmp_path: Path, channel: str
) -> None:
    hook = HookServer()
    try:
        sqlite3.connect(tmp_path / "t.db").close()
        config = tmp_path / "alerts.yaml"
        target = HTTP_TARGETS[channel].format(url=hook.url("").rstrip("/"))
        config.write_text(
            "database:\n  url: sqlite:///t.db\nstate_db: s.db\nalerts:\n"
            "  - name: w\n    query: SELECT 'ALERT' AS status\n    schedule: '* * * * *'\n"
            "    repeat_interval: 1ms\n"
            f"    notify: [{target}]\n"
        )
        modules = _warm_tick(cli, config, "w")
    finally:
        hook.close()
    assert len(hook.requests) == 2  # firing, then the repeat the warm tick delivered
    assert "http.client" in modules and "sqlsentinel.notify.http" in modules
    unsigned = ("hashlib", "hmac", "urllib.request")  # OpenSSL only to sign; urllib for proxies
    never = (*NEVER, "smtplib", "sqlsentinel.notify.templates", "psycopg", *unsigned)
    assert _among(modules, (*never, *ONLY_FOR_KEYED)) == []


def test_keyed_tick_loads_its_own_modules_only(cli: Cli, tmp_path: Path) -> None:
    """A per-row alert's tick adds its own modules, and nothing of the validator's."""
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nstate_db: s.db\nalerts:\n"
        "  - name: k\n    key: id\n    schedule: '* * * * *'\n"
        "    query: SELECT 1 AS id, 'ALERT' AS status UNION ALL SELECT 2, 'OK'\n"
    )
    modules = _warm_tick(cli, config, "k")
    assert set(ONLY_FOR_KEYED) <= modules
    assert _among(modules, (*NEVER, *ONLY_TO_DELIVER, *ONLY_FOR_POSTGRESQL)) == []


def _exec_start(service: Path) -> list[str]:
    """The argv of a unit's `ExecStart=` (each word quoted, `%%` and `$$` doubled)."""
    line = next(x for x in service.read_text().splitlines() if x.startswith("ExecStart="))
    words = re.findall(r'"((?:[^"\\]|\\.)*)"', line.removeprefix("ExecStart="))
    return [w.replace("%%", "%").replace("$$", "$").replace('\\"', '"') for w in words]


def test_the_units_tick_checks_its_applied_copy_without_openssl(cli: Cli, tmp_path: Path) -> None:
    """The exact command line the units run (`--applied` included, from the timetable), as a
    timer starts it: no `_hashlib` or `_ssl` loaded, peak RSS within TICK_OWN_MIB of the
    interpreter's own start (20 MiB here) with a warm cache."""
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nstate_db: s.db\nalerts:\n"
        "  - name: x\n    query: SELECT 'OK' AS status\n    schedule: '* * * * *'\n"
    )
    units = tmp_path / "units"
    done = cli("install-units", "--user", "--unit-dir", units, "--no-reload", config)
    assert done.rc == 0, done.stderr
    (service,) = units.glob("sqlsentinel-x-*.service")
    argv = _exec_start(service)
    (timetable,) = (tmp_path / "state" / "applied").glob("*/timetable.json")
    assert argv == json.loads(timetable.read_text())["alerts"][0]["command"]
    assert "--applied" in argv
    handed = str(int(time.time() // 60 * 60 * 1_000_000))
    env = {**cli.env, "TRIGGER_TIMER_REALTIME_USEC": handed}
    for _ in range(2):  # the first tick fills the spec cache
        warm = subprocess.run(
            [argv[0], "-X", "importtime", *argv[1:]], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert warm.returncode == 0, warm.stderr
    modules = _imported(warm.stderr) - _interpreter_start(argv[0], env, tmp_path)
    assert "sqlsentinel.applied.store" in modules and "sqlsentinel.engine.scheduled" in modules
    writers = ("tempfile", "shutil")  # a warm tick writes no file
    assert _among(modules, ("_hashlib", "_ssl", "hashlib", "hmac", *writers, *NEVER)) == []
    peak = [_peak_rss_mib(argv, env, tmp_path) for _ in range(3)]
    floor = min(_peak_rss_mib([argv[0], "-c", "import sqlite3"], env, tmp_path) for _ in range(3))
    assert min(peak) - floor <= TICK_OWN_MIB, (peak, floor)


# A child forked from pytest would count pytest's pages as its own peak: a small launcher
# spawns the tick (posix_spawn copies nothing) and reports the tick's own peak RSS.
# The tick's own pages over its interpreter's start: 20 MiB in all where the interpreter
# starts in 12 MiB (this test venv; 10.4 MiB in a runtime-only install, bench/bench_tick.py),
# so that a site's own start-up (.pth files importing certifi, ...) is not counted as ours.
TICK_OWN_MIB = 8.0

LAUNCHER = (
    "import os, sys\n"
    "quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]\n"
    "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=quiet)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def _peak_rss_mib(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    done = subprocess.run(
        [argv[0], "-c", LAUNCHER, *argv], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    code, kib = done.stdout.split()
    assert code == "0", done.stderr
    return int(kib) / 1024
