"""The manual commands: version, schedule, validate, status, history, metrics, healthcheck."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import Cli, free_port

from sqlsentinel import __version__
from sqlsentinel.schedule.bursts import TICK_CPU_SECONDS
from sqlsentinel.schedule.timer import Timer
from sqlsentinel.state.schema import SCHEMA_VERSION

TICK = TICK_CPU_SECONDS["sqlite"]  # the configs here record in SQLite

CONFIG = """
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: orders
    query: SELECT status, 7 AS actual_value, 5 AS threshold FROM flag
    schedule: "*/15 * * * *"
  - name: nightly
    query: SELECT 'OK' AS status
    schedule: "30 2 * * *"
    timezone: America/New_York
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    with sqlite3.connect(tmp_path / "target.db") as db:
        db.execute("CREATE TABLE flag (status TEXT)")
        db.execute("INSERT INTO flag VALUES ('ALERT')")
    path = tmp_path / "alerts.yaml"
    path.write_text(CONFIG)
    return path


def test_version_both_entry_points(cli: Cli) -> None:
    result = cli("--version")
    assert result.rc == 0 and result.stdout.strip() == f"sqlsentinel, version {__version__}"
    script = Path(sys.executable).with_name("sqlsentinel")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, env=cli.env)
    assert done.stdout == result.stdout


def test_schedule_json_matches_the_reference_model(cli: Cli, config: Path) -> None:
    result = cli("schedule", config, "--next", "3", "--json")
    assert result.rc == 0, result.stderr
    rows = {r["alert"]: r for r in json.loads(result.stdout)}
    orders = rows["orders"]
    assert set(orders) >= {"alert", "cron", "timezone", "on_calendar", "next", "warnings"}
    assert orders["on_calendar"] == ["*-*-* *:00..45/15:00 UTC"]
    assert orders["timezone"] == "UTC" and len(orders["next"]) == 3
    first = datetime.fromisoformat(orders["next"][0].replace("Z", "+00:00"))
    assert first.minute % 15 == 0 and first.second == 0 and first > datetime.now(UTC)
    nightly = rows["nightly"]
    assert nightly["on_calendar"] == ["*-*-* 02:30:00 America/New_York"]
    model = Timer.in_zone("30 2 * * *", "America/New_York")
    expected = model.next_after(datetime.now(UTC))
    assert expected is not None
    assert datetime.fromisoformat(nightly["next"][0].replace("Z", "+00:00")) == expected
    assert any("skipped" in w for w in nightly["warnings"])  # 02:30 does not exist in March


def test_schedule_table(cli: Cli, config: Path) -> None:
    result = cli("schedule", config, "--next", "1")
    assert result.rc == 0
    assert "OnCalendar=*-*-* 02:30:00 America/New_York" in result.stdout
    assert re.search(r"next: \d{4}-\d\d-\d\dT\d\d:\d\d:00", result.stdout)


def test_validate_ok_with_dst_warning(cli: Cli, config: Path) -> None:
    result = cli("validate", config)
    assert result.rc == 0, result.stderr
    assert result.stdout.startswith("ok: 2 alerts (2 enabled)")
    assert re.search(r"warning: .*alerts\.yaml:\d+: alerts\[1\]\.schedule", result.stderr)
    assert cli("validate", config, "--strict").rc == 3


def test_validate_warns_of_a_burst_and_jitter_spreads_it(cli: Cli, tmp_path: Path) -> None:
    cli.argv = ["taskset", "-c", "0", *cli.argv]  # one CPU, whatever the machine has
    count = int(60 / TICK) + 20  # more than one CPU can run in a minute
    alerts = "".join(
        f"  - name: a{i}\n    query: SELECT 1\n    schedule: '0 * * * *'\n" for i in range(count)
    )
    path = tmp_path / "many.yaml"
    path.write_text(f"database:\n  url: sqlite:///t.db\nalerts:\n{alerts}")
    result = cli("validate", path)
    assert result.rc == 0, result.stderr
    needed = math.ceil(count * TICK)
    assert re.fullmatch(
        rf"warning: {path}:4: {count} alerts \('a0' and {count - 1} more\) start in the same "
        rf"second, \d{{4}}-\d\d-\d\d \d\d:00:00 UTC, and 23 more such seconds in the next 24 h: "
        rf"about {round(count * TICK)} CPU-s at once, more than this host's 60 CPU-s a "
        rf"minute \(1 CPU\); spread them with `jitter: {needed}s` \(on the alerts or under "
        r"defaults:\)\n",
        result.stderr,
    )
    assert cli("validate", path, "--strict").rc == 3
    path.write_text(
        f"database:\n  url: sqlite:///t.db\ndefaults:\n  jitter: {needed}s\nalerts:\n{alerts}"
    )
    result = cli("validate", path)
    assert (result.rc, result.stderr) == (0, "")
    shown = cli("schedule", path, "--user", "--next", "1").stdout
    assert re.search(r"  jitter offset: \d+\.\d{6}s \(in the user manager\)\n  next: ", shown)


def test_status_history_and_filters(cli: Cli, config: Path) -> None:
    never = json.loads(cli("status", config, "--json").stdout)
    assert {r["alert"]: r["state"] for r in never} == {
        "orders": "NEVER_RUN",
        "nightly": "NEVER_RUN",
    }
    assert cli("run", config).rc == 0
    assert cli("run", config, "--alert", "orders").rc == 0
    status = {r["alert"]: r for r in json.loads(cli("status", config, "--json").stdout)}
    assert status["orders"]["state"] == "ALERT" and status["orders"]["last_value"] == 7
    assert status["nightly"]["state"] == "OK"
    rows = json.loads(cli("history", config, "--alert", "orders", "--json").stdout)
    assert [r["transition"] for r in rows] == ["still_firing", "firing"]
    assert rows[0]["actual_value"] == 7 and rows[0]["threshold"] == 5
    assert len(json.loads(cli("history", config, "--limit", "1", "--json").stdout)) == 1
    assert json.loads(cli("history", config, "--since", "2099-01-01", "--json").stdout) == []
    assert len(json.loads(cli("history", config, "--since", "1h", "--json").stdout)) == 3
    bad = cli("history", config, "--since", "yesterday-ish")
    assert bad.rc == 2 and "--since" in bad.stderr
    table = cli("history", config).stdout.splitlines()
    assert table[0].split()[:3] == ["FINISHED", "ALERT", "BY"] and len(table) == 4


def test_silence_arguments(cli: Cli, config: Path) -> None:
    unknown = cli("silence", config, "--alert", "order", "--duration", "1h")
    assert unknown.rc == 2 and "did you mean 'orders'" in unknown.stderr
    hours = cli("silence", config, "--alert", "orders", "--duration", "2", "--by", "ana")
    assert hours.rc == 0 and "by ana" in hours.stdout
    until = json.loads(cli("status", config, "--json").stdout)
    silenced = next(r for r in until if r["alert"] == "orders")["silenced_until"]
    left = datetime.fromisoformat(silenced) - datetime.now(UTC)
    assert 7000 < left.total_seconds() <= 7200  # a bare number is hours, as in the original
    assert cli("silence", config, "--alert", "orders", "--duration", "soon").rc == 2


def test_metrics_text_and_textfile(cli: Cli, config: Path, tmp_path: Path) -> None:
    assert cli("run", config).rc == 0
    text = cli("metrics", config).stdout
    assert 'sqlsentinel_alert_state{alert="orders",state="ALERT"} 1' in text
    assert 'sqlsentinel_alert_state{alert="orders",state="OK"} 0' in text
    assert 'sqlsentinel_alert_last_value{alert="orders"} 7' in text
    assert 'sqlsentinel_runs_in_history{alert="nightly",outcome="ok"} 1' in text
    assert "# TYPE sqlsentinel_alert_state gauge" in text
    for line in text.splitlines():  # every sample parses as name{labels} value
        assert line.startswith("#") or re.fullmatch(r"[a-z_]+\{[^}]*\} -?[0-9.e+]+", line)
    out = tmp_path / "prom" / "sqlsentinel.prom"
    out.parent.mkdir()
    assert cli("metrics", config, "--textfile", out).rc == 0

    def steady(exposition: str) -> list[str]:  # without the samples that move with the clock
        moving = "sqlsentinel_alert_seconds_since_last_run{"
        return [line for line in exposition.splitlines() if not line.startswith(moving)]

    assert steady(out.read_text()) == steady(text)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [p.name for p in out.parent.iterdir()] == ["sqlsentinel.prom"]  # no temp files left


def test_healthcheck(cli: Cli, config: Path, tmp_path: Path) -> None:
    ok = cli("healthcheck", config, "--json")
    assert ok.rc == 0, ok.stdout
    assert all(r["ok"] for r in json.loads(ok.stdout))
    broken = tmp_path / "broken.yaml"
    port = free_port()
    broken.write_text(
        CONFIG.replace("sqlite:///target.db", f"postgresql://nobody@127.0.0.1:{port}/x")
    )
    bad = cli("healthcheck", broken, "--json", "--timeout", "3")
    assert bad.rc == 6
    rows = {r["check"]: r for r in json.loads(bad.stdout)}
    db = next(r for name, r in rows.items() if name.startswith("database default"))
    assert db["ok"] is False and db["detail"]  # the driver's reason, in its words
    assert "Traceback" not in bad.stderr
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("alerts: 5\n")
    assert cli("healthcheck", invalid).rc == 6


def test_init_reports_creation_then_up_to_date(cli: Cli, config: Path) -> None:
    assert cli("init", config).stdout.strip() == f"created state database schema v{SCHEMA_VERSION}"
    assert (
        cli("init", config).stdout.strip()
        == f"state database is up to date (schema v{SCHEMA_VERSION})"
    )


def test_schedule_previews_valid_alerts_of_an_invalid_config(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(CONFIG + "  - name: boot\n    query: SELECT 1\n    schedule: '@reboot'\n")
    result = cli("schedule", path, "--json")
    assert result.rc == 3
    rows = {r["alert"]: r for r in json.loads(result.stdout)}
    assert rows["orders"]["next"] and rows["orders"]["error"] is None
    assert "@reboot" in rows["boot"]["error"] and rows["boot"]["next"] == []
    assert "alerts[2].schedule (alert 'boot')" in result.stderr


def test_state_commands_need_neither_valid_alerts_nor_secrets(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    assert cli("run", config).rc == 0
    mailing = tmp_path / "mailing.yaml"
    mailing.write_text(
        CONFIG + "    notify:\n      - channel: email\n        recipients: [ops@example.com]\n"
    )
    validated = cli("validate", mailing)  # no SMTP settings here: a warning, for they may be
    assert validated.rc == 0 and "warning:" in validated.stderr  # set where the alerts run
    for command in ("status", "history", "deliveries"):
        result = cli(command, mailing, "--json")
        assert result.rc == 0, (command, result.stderr)
    assert 'alert="orders"' in cli("metrics", mailing).stdout


def test_reading_state_never_creates_a_database(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "fresh.yaml"
    path.write_text(CONFIG.replace("state.db", "sub/state.db"))
    for command in ("status", "history", "metrics"):
        assert cli(command, path).rc == 0
    assert not (tmp_path / "sub").exists()


def test_bad_arguments_are_usage_errors(cli: Cli, config: Path) -> None:
    for args in (
        ("healthcheck", config, "--timeout", "-1"),
        ("silence", config, "--alert", "orders", "--duration", "0"),
        ("silence", config, "--alert", "orders", "--duration", "9999999999d"),
        ("history", config, "--since", "99999999999d"),
        ("schedule", config, "--next", "0"),
        ("history", config, "--limit", "0"),
    ):
        result = cli(*args)
        assert result.rc == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_a_closed_pipe_keeps_the_exit_code(cli: Cli) -> None:
    code = (
        "import os, sys\n"
        "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
        "from sqlsentinel.cli.common import emit\n"
        "emit([{'a': 'x' * 100}] * 2000, ['a'], False)\n"
        "sys.exit(5)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli.env)
    assert done.returncode == 5 and "Traceback" not in done.stderr


def test_unusable_database_urls_are_named(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "urls.yaml"
    path.write_text(
        "database:\n  url: sqllite:///x.db\nstate_db: s.db\nalerts:\n"
        "  - name: typo\n    query: SELECT 'OK' AS status\n    schedule: '* * * * *'\n"
        "  - name: missing\n    query: SELECT 'OK' AS status\n    schedule: '* * * * *'\n"
        "    database: gone\n"
        "databases:\n  gone:\n    url: sqlite:///no-such-file.db\n"
    )
    result = cli("run", path, "--json")
    assert result.rc == 1
    rows = {r["alert"]: r for r in json.loads(result.stdout)}
    assert rows["typo"]["outcome"] == "connection_error"
    assert (
        rows["typo"]["error"]
        == "unknown database type 'sqllite' in the URL; did you mean 'sqlite'?"
    )
    assert rows["missing"]["error"] == f"no SQLite database at {tmp_path / 'no-such-file.db'}"
    assert not (tmp_path / "no-such-file.db").exists()
    assert "error=\"unknown database type 'sqllite'" in result.stderr  # the journal says why


def test_healthcheck_never_prints_a_url_secret(cli: Cli, tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://nobody:pw-in-userinfo@127.0.0.1:{port}/x?sslmode=disable&password=hunter22"
    path = tmp_path / "secret.yaml"
    path.write_text(CONFIG.replace("sqlite:///target.db", url))
    for args in (("--json",), ()):
        result = cli("healthcheck", path, "--timeout", "3", *args)
        assert result.rc == 6, result.stderr
        output = result.stdout + result.stderr
        assert "hunter22" not in output and "pw-in-userinfo" not in output
    check = json.loads(cli("healthcheck", path, "--timeout", "3", "--json").stdout)[-1]["check"]
    assert check.endswith("?sslmode=disable&password=…redacted)")


@pytest.mark.parametrize(
    "query",
    ["sslpassword=k3y-secret", "password=k3y-secret", "token=k3y-secret", "api_key=k3y-secret"],
)
def test_install_units_refuses_a_state_db_with_a_secret(
    cli: Cli, config: Path, tmp_path: Path, query: str
) -> None:
    state_db = f"postgresql://sentinel@db.example.com/state?sslmode=require&{query}"
    result = cli("install-units", config, "--user", "--unit-dir", tmp_path / "units",
                 "--no-reload", "--state-db", state_db)  # fmt: skip
    assert result.rc == 2, result.stderr
    assert "secret" in result.stderr and "k3y-secret" not in result.stderr
    assert not (tmp_path / "units").exists()
    path_only = "postgresql://sentinel@db/state?sslkey=/etc/sentinel/key.pem"
    fine = cli("install-units", config, "--user", "--unit-dir", tmp_path / "units",
               "--no-reload", "--state-db", path_only)  # fmt: skip
    assert fine.rc == 0, fine.stderr


def test_typed_values_are_usage_errors_not_internal_errors(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    for timeout in ("nan", "inf", "-inf"):
        result = cli("healthcheck", config, "--timeout", timeout)
        assert result.rc == 2, (timeout, result.stderr)
        assert "'--timeout'" in result.stderr and "Traceback" not in result.stderr
    missing = tmp_path / "no-such-folder" / "sqlsentinel.prom"
    result = cli("metrics", config, "--textfile", missing)
    assert result.rc == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: {config} is not applied yet: its alerts are checked as it loads here",
        f"error: --textfile {missing}: cannot write: No such file or directory",
    ]


def test_log_lines_are_redacted_like_every_other_output(cli: Cli) -> None:
    code = (
        "import logging\n"
        "from sqlsentinel.cli.common import log_to_stderr\n"
        "log_to_stderr(logging.INFO)\n"
        "logging.getLogger('sqlsentinel.run').info("
        "'run finished error=%r', 'cannot connect to postgresql://u:hunter22@db/x?sslpassword=k3y')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli.env)
    assert done.stderr == (
        "sqlsentinel: run finished error='cannot connect to "
        "postgresql://u:…redacted@db/x?sslpassword=…redacted'\n"
    )
