"""Commands run from a shell see what the services see (issue 17.8).

Every command that reads a config takes `--env-file` (the services' file by default, where
the package put one), and a variable that only a notification reads never takes an alert
out of `status`, `metrics` or the missed-run check: it is a warning naming file:line and
the variable, and the alert's schedule still counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import Cli, cli_env
from test_stale import MISSED, ran

# Shaped like the original SQL Sentinel's alerts-multi-channel.yaml: every alert's
# notifications read a secret the operator's shell does not have.
ALERTS = """\
database:
  url: sqlite:///t.db
state_db: s.db
alerts:
  - name: revenue
    query: SELECT 'OK' AS status
    schedule: "0 * * * *"
    notify:
      - channel: slack
        webhook_url: "${SLACK_WEBHOOK_URL}"
  - name: payments
    query: SELECT 'OK' AS status
    schedule: "0 * * * *"
    notify:
      - channel: webhook
        url: "${PAGERDUTY_WEBHOOK}"
        headers:
          Authorization: "Token token=${PAGERDUTY_TOKEN}"
"""
SECRETS = (
    "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/X\n"
    "PAGERDUTY_WEBHOOK=https://events.example.com/hook\n"
    "PAGERDUTY_TOKEN=abc\n"
)
LAST = MISSED - timedelta(hours=1) + timedelta(seconds=4)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    import sqlite3

    sqlite3.connect(tmp_path / "t.db").close()
    path = tmp_path / "alerts.yaml"
    path.write_text(ALERTS)
    for alert in ("revenue", "payments"):
        ran(tmp_path / "s.db", alert, LAST)
    return path


def _secrets(tmp_path: Path, text: str = SECRETS) -> Path:
    env_file = tmp_path / "sentinel.env"
    env_file.write_text(text)
    env_file.chmod(0o600)
    return env_file


def test_metrics_keeps_the_stale_samples_when_a_notification_secret_is_unset(
    cli: Cli, config: Path
) -> None:
    done = cli("metrics", config)
    assert done.rc == 0, done.stderr
    assert 'sqlsentinel_alert_stale{alert="revenue"} 1' in done.stdout
    assert 'sqlsentinel_alert_stale{alert="payments"} 1' in done.stdout
    missed = int(MISSED.timestamp())
    assert f'sqlsentinel_alert_missed_run_timestamp_seconds{{alert="revenue"}} {missed}' in (
        done.stdout
    )
    # never silently: the warning names the file, the line and the variable
    assert f"{config}:10:" in done.stderr and "SLACK_WEBHOOK_URL is not set" in done.stderr
    assert f"{config}:16:" in done.stderr and "PAGERDUTY_WEBHOOK is not set" in done.stderr
    assert f"{config}:18:" in done.stderr and "PAGERDUTY_TOKEN is not set" in done.stderr


def test_status_and_healthcheck_keep_the_schedule_facts(cli: Cli, config: Path) -> None:
    status = cli("status", config, "--json")
    assert status.rc == 0, status.stderr
    rows = {r["alert"]: r for r in json.loads(status.stdout)}
    assert {a: (r["stale"], r["missed_run"]) for a, r in rows.items()} == {
        "revenue": (True, MISSED.isoformat()),
        "payments": (True, MISSED.isoformat()),
    }
    assert "SLACK_WEBHOOK_URL is not set" in status.stderr
    health = cli("healthcheck", config, "--json")
    assert health.rc == 6
    stale = sorted(r["check"] for r in json.loads(health.stdout) if "stale" in r["detail"])
    assert stale == ["alert payments", "alert revenue"]


def test_env_file_gives_the_shell_the_services_variables(cli: Cli, config: Path) -> None:
    env_file = _secrets(config.parent)
    assert cli("validate", config).rc == 3
    done = cli("validate", config, "--env-file", env_file)
    assert done.rc == 0, done.stderr
    assert "warning" not in done.stderr
    health = cli("healthcheck", config, "--env-file", env_file, "--json")
    alert_rows = [r for r in json.loads(health.stdout) if r["check"] == "alert revenue"]
    assert all("not set" not in r["detail"] for r in alert_rows)
    metrics = cli("metrics", config, "--env-file", env_file)
    assert metrics.rc == 0 and "not set" not in metrics.stderr
    status = cli("status", config, "--env-file", env_file)
    assert status.rc == 0 and "not set" not in status.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("validate",),
        ("schedule",),
        ("run", "--dry-run"),
        ("status",),
        ("history",),
        ("deliveries",),
        ("healthcheck",),
        ("metrics",),
        ("init",),
        ("notify-test", "--alert", "revenue", "--dry-run"),
        ("silence", "--alert", "revenue", "--duration", "1h"),
        ("unsilence", "--alert", "revenue"),
        ("install-units", "--user", "--no-reload", "--dry-run"),
    ],
)
def test_every_command_that_reads_a_config_takes_env_file(
    cli: Cli, config: Path, command: tuple[str, ...]
) -> None:
    name, *rest = command
    done = cli(name, config, *rest, "--env-file", _secrets(config.parent))
    assert done.rc == (6 if name == "healthcheck" else 0), done.stdout + done.stderr  # 6: stale
    assert "not set" not in done.stderr


def test_the_state_database_of_the_env_file_is_the_one_used(cli: Cli, config: Path) -> None:
    """SQLSENTINEL_STATE_DB, where the package's file names the state database."""
    config.write_text(ALERTS.replace("state_db: s.db\n", ""))
    other = config.parent / "other.db"
    ran(other, "revenue", LAST)
    env_file = _secrets(config.parent, SECRETS + f"SQLSENTINEL_STATE_DB=sqlite:///{other}\n")
    status = json.loads(cli("status", config, "--json", "--env-file", env_file).stdout)
    assert {r["alert"]: r["state"] for r in status} == {"revenue": "OK", "payments": "NEVER_RUN"}
    history = json.loads(cli("history", config, "--json", "--env-file", env_file).stdout)
    assert [r["alert"] for r in history] == ["revenue"]
    metrics = cli("metrics", config, "--env-file", env_file).stdout
    assert 'sqlsentinel_alert_stale{alert="revenue"} 1' in metrics
    health = json.loads(cli("healthcheck", config, "--json", "--env-file", env_file).stdout)
    assert any(r["check"] == "state database" and r["ok"] for r in health)
    assert cli("history", config, "--json").stdout.strip() == "[]"  # without it: another one


def test_the_shell_wins_over_the_env_file(cli: Cli, config: Path) -> None:
    env_file = _secrets(config.parent, "SQLSENTINEL_STATE_DB=sqlite:///nowhere/x.db\n")
    here = config.parent / "here.db"
    done = cli("init", "--env-file", env_file, env={"SQLSENTINEL_STATE_DB": f"sqlite:///{here}"})
    assert done.rc == 0, done.stderr
    assert here.exists()


def test_lines_systemd_ignores_are_warnings_with_their_line(cli: Cli, config: Path) -> None:
    env_file = _secrets(config.parent, SECRETS + "export SMTP_HOST=x\n9LIVES=1\n")
    done = cli("validate", config, "--env-file", env_file)
    assert done.rc == 0, done.stderr
    assert f"warning: {env_file}:4: ignoring 'export SMTP_HOST'" in done.stderr
    assert f"warning: {env_file}:5: ignoring '9LIVES'" in done.stderr


def test_an_env_file_that_is_not_utf8_is_refused(cli: Cli, config: Path) -> None:
    env_file = config.parent / "bad.env"
    env_file.write_bytes(b"A=1\nB=caf\xe9\n")
    done = cli("validate", config, "--env-file", env_file)
    assert done.rc == 3
    assert f"{env_file}:2:" in done.stderr and "Traceback" not in done.stderr


def test_a_missing_env_file_is_a_usage_error(cli: Cli, config: Path) -> None:
    done = cli("status", config, "--env-file", config.parent / "none.env")
    assert done.rc == 2
    assert "none.env" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------ the default: the package's own file

OVERLAY = """\
set -e
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$UPPER,workdir=$WORK" /etc
mkdir -p /etc/sqlsentinel
cp "$ENV_FILE" /etc/sqlsentinel/sqlsentinel.env
chmod "$MODE" /etc/sqlsentinel/sqlsentinel.env
exec "$@"
"""


def _with_package_env_file(
    tmp_path: Path, mode: str, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI where /etc/sqlsentinel/sqlsentinel.env is the package's file, in a
    private mount namespace (an overlay on /etc that only this process sees)."""
    if os.geteuid() != 0:
        pytest.fail("needs root (unshare --mount); CI runs the tests as root")
    for d in ("upper", "work"):
        (tmp_path / d).mkdir()
    base = {**cli_env(tmp_path), "UPPER": str(tmp_path / "upper"), "WORK": str(tmp_path / "work")}
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", OVERLAY, "sh",
         sys.executable, "-m", "sqlsentinel", *map(str, args)],
        env={**base, "ENV_FILE": str(_secrets(tmp_path)), "MODE": mode, **(env or {})},
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_package_env_file_is_read_by_default(tmp_path: Path, config: Path) -> None:
    done = _with_package_env_file(tmp_path, "600", "validate", config)
    assert done.returncode == 0, done.stderr


def test_not_in_a_service_nor_when_others_may_write_it(tmp_path: Path, config: Path) -> None:
    service = _with_package_env_file(
        tmp_path, "600", "validate", config, env={"INVOCATION_ID": "1"}
    )
    assert service.returncode == 3  # systemd already gave a service its environment
    for d in ("upper", "work"):
        subprocess.run(["rm", "-rf", str(tmp_path / d)], check=True)
    writable = _with_package_env_file(tmp_path, "666", "validate", config)
    assert writable.returncode == 3
    assert "not reading /etc/sqlsentinel/sqlsentinel.env" in writable.stderr


def test_an_empty_env_file_option_reads_none(tmp_path: Path, config: Path) -> None:
    done = _with_package_env_file(tmp_path, "600", "validate", config, "--env-file", "")
    assert done.returncode == 3
    assert "SLACK_WEBHOOK_URL is not set" in done.stderr


def test_its_last_run_is_what_the_stale_check_counts(cli: Cli, config: Path) -> None:
    ran(config.parent / "s.db", "revenue", datetime.now(UTC))
    text = cli("metrics", config).stdout
    assert 'sqlsentinel_alert_stale{alert="revenue"} 0' in text
    assert 'sqlsentinel_alert_stale{alert="payments"} 1' in text


def test_install_units_validates_with_its_env_file(cli: Cli, config: Path) -> None:
    """The secrets only in the env file: every alert is installed (they were broken, exit 3)."""
    units = config.parent / "units"
    done = cli("install-units", config, "--user", "--no-reload", "--unit-dir", units,
               "--env-file", _secrets(config.parent))  # fmt: skip
    assert done.rc == 0, done.stderr
    assert len(list(units.glob("sqlsentinel-*.timer"))) == 2
    assert "warning" not in done.stderr


def test_the_daemon_validates_with_its_env_file(cli: Cli, config: Path) -> None:
    """`daemon --env-file` (the services' EnvironmentFile=) is what it validates with too:
    both alerts are scheduled, none broken."""
    proc = subprocess.Popen(
        [*cli.argv, "daemon", config, "--backend", "local", "--no-reload",
         "--env-file", _secrets(config.parent)],
        cwd=config.parent, env={**cli.env, "RUNTIME_DIRECTORY": str(config.parent)},
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        tables: list[Path] = []
        while not tables and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            tables = list((config.parent / "state" / "applied").glob("*/timetable.json"))
        assert tables, "no timetable written"
        timetable = json.loads(tables[0].read_text())
        assert sorted(a["name"] for a in timetable["alerts"]) == ["payments", "revenue"]
        assert timetable["not_scheduled"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=30)
