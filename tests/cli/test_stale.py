"""Missed runs in `healthcheck` (exit 6 naming the alert and the tick), `status` and `metrics`,
from recorded runs, and from the applied copy when there is one."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import Cli

from sqlsentinel.applied.store import AppliedStore
from sqlsentinel.config.fallbacks import Fallbacks
from sqlsentinel.core.decide import Rule, decide
from sqlsentinel.core.run import RunRecord
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.record import open_run

ALERTS = """\
database:
  url: sqlite:///t.db
state_db: s.db
alerts:
  - name: fresh
    query: SELECT 'OK' AS status
    schedule: "* * * * *"
  - name: late
    query: SELECT 'OK' AS status
    schedule: "0 * * * *"
  - name: paused
    query: SELECT 'OK' AS status
    schedule: "* * * * *"
    enabled: false
"""
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
MISSED = HOUR - timedelta(hours=2)  # `late` ran at the hour before it, and not since


def ran(state: Path, alert: str, at: datetime) -> None:
    db = StateDB(f"sqlite:///{state}")
    db.ensure_schema()
    rec = RunRecord(uuid.uuid4().hex, alert, "CRON", None, None, at, at, "ok", "ok")
    with open_run(db, alert, at) as tx:
        tx.write(rec, decide(tx.previous, "ok", Rule(), tx.silenced, at), [], None)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    sqlite3.connect(tmp_path / "t.db").close()
    path = tmp_path / "alerts.yaml"
    path.write_text(ALERTS)
    ran(tmp_path / "s.db", "fresh", datetime.now(UTC) - timedelta(seconds=10))
    ran(tmp_path / "s.db", "late", MISSED - timedelta(hours=1) + timedelta(seconds=4))
    ran(tmp_path / "s.db", "paused", MISSED - timedelta(days=30))
    return path


def test_healthcheck_fails_naming_the_stale_alert_and_its_tick(cli: Cli, config: Path) -> None:
    done = cli("healthcheck", config, "--json")
    assert done.rc == 6, done.stdout
    failed = [r for r in json.loads(done.stdout) if not r["ok"]]
    tick = f"{MISSED:%Y-%m-%d %H:%M:%S} UTC"
    last = f"{MISSED - timedelta(hours=1) + timedelta(seconds=4):%Y-%m-%d %H:%M:%S} UTC"
    assert failed == [
        {
            "check": "alert late",
            "ok": False,
            "detail": f"stale: missed its run at {tick}; last run {last} "
            "(stale 90s after a tick without a run)",
        }
    ]
    table = cli("healthcheck", config)
    assert table.rc == 6
    assert re.search(rf"^alert late +no +stale: missed its run at {tick}", table.stdout, re.M)

    ran(config.parent / "s.db", "late", datetime.now(UTC))
    fixed = cli("healthcheck", config, "--json")
    assert fixed.rc == 0, fixed.stdout
    rows = {r["check"]: r for r in json.loads(fixed.stdout)}
    assert rows["missed runs"] == {
        "check": "missed runs",
        "ok": True,
        "detail": "none (2 enabled alerts)",
    }


def test_status_shows_the_missed_run(cli: Cli, config: Path) -> None:
    done = cli("status", config, "--json")
    assert done.rc == 0, done.stderr
    rows = {r["alert"]: r for r in json.loads(done.stdout)}
    assert (rows["late"]["stale"], rows["late"]["missed_run"]) == (True, MISSED.isoformat())
    assert (rows["fresh"]["stale"], rows["fresh"]["missed_run"]) == (False, None)
    assert (rows["paused"]["stale"], rows["paused"]["missed_run"]) == (None, None)  # not checked
    missed = MISSED.astimezone().strftime("%Y-%m-%d %H:%M:%S")  # local, as --wide shows it
    table = cli("status", config, "--wide").stdout.splitlines()
    assert "MISSED_RUN" in table[0]
    assert next(line for line in table if missed in line).startswith("late ")
    table = cli("status", config).stdout.splitlines()  # a note on the line, without --wide
    assert next(line for line in table if "missed " in line).startswith("late ")


def test_metrics_export_stale_and_seconds_since_the_last_run(cli: Cli, config: Path) -> None:
    text = cli("metrics", config).stdout
    assert 'sqlsentinel_alert_stale{alert="late"} 1' in text
    assert 'sqlsentinel_alert_stale{alert="fresh"} 0' in text
    assert 'sqlsentinel_alert_stale{alert="paused"}' not in text  # disabled: never stale
    assert (
        f'sqlsentinel_alert_missed_run_timestamp_seconds{{alert="late"}} {int(MISSED.timestamp())}'
        in text
    )
    assert 'sqlsentinel_alert_missed_run_timestamp_seconds{alert="fresh"}' not in text
    since = {
        line.split('"')[1]: float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("sqlsentinel_alert_seconds_since_last_run{")
    }
    assert 10 <= since["fresh"] < 60
    assert since["late"] > 2 * 3600
    assert (
        "sqlsentinel_alert_stale"
        not in cli("metrics", "--state-db", f"sqlite:///{config.parent / 's.db'}").stdout
    )


def test_the_applied_copy_is_what_is_checked(cli: Cli, config: Path, tmp_path: Path) -> None:
    """An alert that never ran counts from the apply; one only in the edited file is not
    checked until it is applied."""
    applied = ALERTS.replace("  - name: paused", "  - name: new\n    query: SELECT 1\n"
                             "    schedule: '0 * * * *'\n  - name: paused")  # fmt: skip
    store = AppliedStore.for_config(str(config), Path(cli.env["STATE_DIRECTORY"]))
    store.save(applied.encode(), str(config), Fallbacks(), MISSED - timedelta(minutes=30))
    config.write_text(ALERTS.replace("  - name: paused", "  - name: unapplied\n"
                                     "    query: SELECT 1\n    schedule: '* * * * *'\n"
                                     "  - name: paused"))  # fmt: skip
    done = cli("healthcheck", config, "--json")
    failed = {r["check"]: r["detail"] for r in json.loads(done.stdout) if not r["ok"]}
    assert set(failed) == {"alert late", "alert new"}
    assert failed["alert new"].startswith(
        f"stale: missed its run at {MISSED:%Y-%m-%d %H:%M:%S} UTC; it never ran"
    )
    assert os.path.exists(store.folder / "config.yaml")


UNSET_URL = ALERTS.replace(
    "state_db: s.db\n", "state_db: s.db\ndatabases:\n  late_db:\n    url: ${LATE_DB_URL}\n"
).replace("  - name: late\n", "  - name: late\n    database: late_db\n")


def _install(cli: Cli, config: Path, **env: str) -> None:
    units = config.parent / "units"
    done = cli("install-units", "--user", "--unit-dir", units, "--no-reload", config, env=env)
    assert done.rc == 0, done.stderr


def test_what_was_applied_is_checked_whatever_the_callers_environment(
    cli: Cli, config: Path
) -> None:
    """`${VAR}` in an alert's database URL, set where the config was applied and unset in the
    shell that asks: the alert keeps its schedule and staleness in status, metrics and
    healthcheck (before the timetable, it silently left the check)."""
    config.write_text(UNSET_URL)
    _install(cli, config, LATE_DB_URL="sqlite:///t.db")
    assert "LATE_DB_URL" not in cli.env
    status = cli("status", config, "--json")
    assert status.rc == 0, status.stderr
    rows = {r["alert"]: r for r in json.loads(status.stdout)}
    assert (rows["late"]["stale"], rows["late"]["missed_run"]) == (True, MISSED.isoformat())
    assert "warning" not in status.stderr
    metrics = cli("metrics", config)
    assert metrics.rc == 0 and metrics.stderr == ""
    assert 'sqlsentinel_alert_stale{alert="late"} 1' in metrics.stdout
    stamp = int(MISSED.timestamp())
    assert f'sqlsentinel_alert_missed_run_timestamp_seconds{{alert="late"}} {stamp}' in (
        metrics.stdout
    )
    health = cli("healthcheck", config, "--json")
    assert health.rc == 6
    details = [r["detail"] for r in json.loads(health.stdout) if r["check"] == "alert late"]
    assert any("LATE_DB_URL is not set" in d for d in details)  # it cannot run from here
    assert f"stale: missed its run at {MISSED:%Y-%m-%d %H:%M:%S} UTC" in " ".join(details)


def test_a_config_never_applied_names_each_alert_it_cannot_check(cli: Cli, config: Path) -> None:
    """No applied copy: the file is validated here, saying so, and an alert that does not
    load here is named in a warning instead of silently missing from the check."""
    config.write_text(UNSET_URL)
    metrics = cli("metrics", config)
    assert metrics.rc == 0
    assert metrics.stderr.splitlines() == [
        f"warning: {config} is not applied yet: its alerts are checked as it loads here",
        f"warning: alert late is not checked for missed runs: {config}:6: "
        "databases.late_db.url: environment variable LATE_DB_URL is not set "
        "(write ${LATE_DB_URL:-default} to give a default)",
    ]
    assert 'sqlsentinel_alert_stale{alert="fresh"} 0' in metrics.stdout
    assert 'sqlsentinel_alert_stale{alert="late"}' not in metrics.stdout


@pytest.mark.parametrize("command", ["status", "metrics"])
def test_reading_what_is_applied_imports_no_validator(cli: Cli, config: Path, command: str) -> None:
    """status CONFIG and metrics CONFIG read the state database and the timetable: neither
    pydantic, PyYAML nor jinja2 (nor the loader) is imported."""
    _install(cli, config)
    cli.argv = [*cli.argv[:1], "-X", "importtime", *cli.argv[1:]]
    done = cli(command, config)
    assert done.rc == 0, done.stderr
    modules = {m.group(1) for m in re.finditer(r"^import time:.*\|\s*([\w.]+)$", done.stderr, re.M)}
    assert "sqlsentinel.applied.timetable" in modules
    heavy = ("pydantic", "yaml", "jinja2", "sqlsentinel.config.loader", "sqlsentinel.config.models")
    assert sorted(m for m in modules if m.split(".")[0] in heavy or m in heavy) == []
