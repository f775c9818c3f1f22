"""The original SQL Sentinel's example configs work unchanged (issue 17.18).

Its examples/alerts.yaml names `sqlite:///examples/sample_data.db` and its README runs every
command from the project folder (`python -m sqlsentinel.cli run examples/alerts.yaml
--state-db sqlite:///examples/sqlsentinel.db`): a relative SQLite path is read from the
working directory. The timers, which run from `/`, keep the absolute path the apply found;
`validate` warns when the two readings (working directory, config folder) differ. A config
without `database:` runs on DATABASE_URL or `--database-url`, in every command.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import Cli, cli_env

from sqlsentinel.config.to_specs import original_subject

# The original's examples/alerts.yaml, as it ships (two of its three alerts).
ORIGINAL = """\
# SQL Sentinel Example Configuration
# This example uses SQLite for both the monitored data and state tracking

database:
  url: "sqlite:///examples/sample_data.db"

alerts:
  - name: "daily_revenue_check"
    description: "Alert when daily revenue falls below $10,000"
    enabled: true
    query: |
      SELECT
        CASE
          WHEN total_revenue < 10000 THEN 'ALERT'
          ELSE 'OK'
        END as status,
        total_revenue as actual_value,
        10000 as threshold,
        order_count
      FROM (
        SELECT
          SUM(amount) as total_revenue,
          COUNT(*) as order_count
        FROM orders
        WHERE date = date('now', '-1 day')
      )
    schedule: "0 9 * * *"  # 9 AM daily
    notify:
      - channel: email
        recipients:
          - "sqlsentinel@example.com"
        subject: "Revenue Alert: {alert_name}"

  - name: "data_freshness_check"
    description: "Alert when data hasn't been updated in 24 hours"
    enabled: true
    query: |
      SELECT
        CASE
          WHEN hours_since_update > 24 THEN 'ALERT'
          ELSE 'OK'
        END as status,
        hours_since_update as actual_value,
        24 as threshold,
        last_update
      FROM (
        SELECT
          (julianday('now') - julianday(MAX(updated_at))) * 24 as hours_since_update,
          MAX(updated_at) as last_update
        FROM data_pipeline
      )
    schedule: "0 */6 * * *"  # Every 6 hours
    notify:
      - channel: email
        recipients:
          - "sqlsentinel@example.com"
"""
SMTP = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9"}  # configured; nothing is sent (all OK)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The original's project folder: examples/alerts.yaml and examples/sample_data.db."""
    folder = tmp_path / "project"
    (folder / "examples").mkdir(parents=True)
    (folder / "examples" / "alerts.yaml").write_text(ORIGINAL)
    with sqlite3.connect(folder / "examples" / "sample_data.db") as db:
        db.execute("CREATE TABLE orders (date TEXT, amount REAL)")
        db.execute("INSERT INTO orders VALUES (date('now', '-1 day'), 11096.5)")
        db.execute("CREATE TABLE data_pipeline (updated_at TEXT)")
        db.execute("INSERT INTO data_pipeline VALUES (datetime('now', '-30 minutes'))")
    db.close()
    return folder


def _in(cli: Cli, folder: Path) -> Cli:
    cli.cwd = folder
    return cli


def test_the_original_readme_commands_work_from_the_project_folder(cli: Cli, project: Path) -> None:
    cli = _in(cli, project)
    state = "sqlite:///examples/sqlsentinel.db"
    init = cli("init", "--state-db", state)
    assert init.rc == 0, init.stderr
    validate = cli("validate", "examples/alerts.yaml", env=SMTP)
    assert validate.rc == 0, validate.stderr
    run = cli("run", "examples/alerts.yaml", "--state-db", state, "--json", env=SMTP)
    assert run.rc == 0, run.stdout + run.stderr
    outcomes = {r["alert"]: (r["outcome"], r["state"]) for r in json.loads(run.stdout)}
    assert outcomes == {
        "daily_revenue_check": ("ok", "OK"),
        "data_freshness_check": ("ok", "OK"),
    }
    assert (project / "examples" / "sqlsentinel.db").exists()
    history = cli("history", "examples/alerts.yaml", "--alert", "daily_revenue_check",
                  "--state-db", state, "--json")  # fmt: skip
    assert [r["actual_value"] for r in json.loads(history.stdout)] == [11096.5]


def test_python_dash_m_sqlsentinel_cli_is_the_cli(cli: Cli, project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sqlsentinel.cli", "validate", "examples/alerts.yaml"],
        cwd=project, env={**cli_env(project), **SMTP}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: 2 alerts")


def test_validate_warns_when_the_two_readings_differ(cli: Cli, project: Path) -> None:
    done = _in(cli, project)("validate", "examples/alerts.yaml", env=SMTP)
    here = project / "examples" / "sample_data.db"
    beside = project / "examples" / "examples" / "sample_data.db"
    assert done.rc == 0
    (warning,) = [line for line in done.stderr.splitlines() if "relative SQLite path" in line]
    assert warning.startswith("warning: examples/alerts.yaml:5: database.url:")
    assert f"reads {here} from the working directory and {beside}" in warning
    assert f"using {here}" in warning
    assert (
        "--strict" not in warning
        and _in(cli, project)("validate", "examples/alerts.yaml", "--strict", env=SMTP).rc == 3
    )


def test_no_warning_when_they_agree(cli: Cli, project: Path) -> None:
    config = project / "here.yaml"
    config.write_text(ORIGINAL.replace("sqlite:///examples/sample_data.db", "sqlite:///x.db"))
    (project / "x.db").write_bytes((project / "examples" / "sample_data.db").read_bytes())
    done = _in(cli, project)("validate", "here.yaml", env=SMTP)
    assert done.rc == 0, done.stderr
    assert "relative SQLite path" not in done.stderr


def test_a_file_only_beside_the_config_is_still_found(cli: Cli, tmp_path: Path) -> None:
    """A config written for this project's earlier releases (paths from its own folder)."""
    folder = tmp_path / "etc"
    folder.mkdir()
    with sqlite3.connect(folder / "data.db") as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    config = folder / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///data.db\nalerts:\n"
        "  - name: a\n    query: SELECT 'OK' AS status FROM t UNION ALL SELECT 'OK' LIMIT 1\n"
        '    schedule: "* * * * *"\n'
    )
    done = cli("run", config, "--json")  # from the test's temp folder, not the config's
    assert done.rc == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)[0]["outcome"] == "ok"


NO_DATABASE = """\
alerts:
  - name: revenue
    query: SELECT CASE WHEN SUM(amount) < 10000 THEN 'ALERT' ELSE 'OK' END AS status FROM orders
    schedule: "0 9 * * *"
    notify:
      - channel: webhook
        url: http://127.0.0.1:9/hook
"""


@pytest.mark.parametrize("how", ["DATABASE_URL", "--database-url"])
def test_a_config_without_database_runs_on_the_fallback_in_every_command(
    cli: Cli, project: Path, how: str
) -> None:
    config = project / "nodb.yaml"
    config.write_text(NO_DATABASE)
    url = "sqlite:///examples/sample_data.db"  # relative: read from the working directory
    cli = _in(cli, project)
    env = {"DATABASE_URL": url} if how == "DATABASE_URL" else {}
    extra = ("--database-url", url) if how == "--database-url" else ()
    for command in (("validate",), ("schedule",), ("run", "--json"), ("healthcheck",),
                    ("notify-test", "--alert", "revenue", "--dry-run"),
                    ("install-units", "--user", "--no-reload", "--dry-run")):  # fmt: skip
        done = cli(command[0], config, *command[1:], *extra, env=env)
        assert done.rc == 0, (command, done.stdout + done.stderr)
    for command in ("status", "metrics"):  # not applied: validated here for the stale check
        done = cli(command, config, *extra, env=env)
        assert done.rc == 0 and "not checked" not in done.stderr, done.stderr
        assert "not exported" not in done.stderr and "no database" not in done.stderr
    assert cli("validate", config).rc == 3  # without either: `no database`


def test_a_database_url_overrides_the_configs_database(cli: Cli, project: Path) -> None:
    other = project / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE orders (date TEXT, amount REAL)")
        db.execute("INSERT INTO orders VALUES (date('now', '-1 day'), 5)")
        db.execute("CREATE TABLE data_pipeline (updated_at TEXT)")
        db.execute("INSERT INTO data_pipeline VALUES (datetime('now'))")
    db.close()
    done = _in(cli, project)(
        "run", "examples/alerts.yaml", "--alert", "daily_revenue_check", "--dry-run", "--json",
        "--database-url", "sqlite:///other.db", env=SMTP,
    )  # fmt: skip
    assert done.rc == 0, done.stderr
    assert json.loads(done.stdout)[0]["state"] == "ALERT"  # 5 < 10000: other.db was queried


def test_timers_keep_the_path_the_apply_found(cli: Cli, project: Path, tmp_path: Path) -> None:
    """install-units from the project folder; the timer's command, run from `/` (where
    systemd starts it), queries the same file and writes the same state database."""
    units = tmp_path / "units"
    cli = _in(cli, project)
    state = "sqlite:///examples/sqlsentinel.db"
    done = cli("install-units", "examples/alerts.yaml", "--user", "--no-reload",
               "--unit-dir", units, "--state-db", state, env=SMTP)  # fmt: skip
    assert done.rc == 0, done.stderr
    service = next(units.glob("*daily-revenue-check*.service")).read_text()
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert f"sqlite:///{project}/examples/sqlsentinel.db" in argv  # absolute in the unit
    tick = subprocess.run(
        argv, cwd="/", env={**cli.env, **SMTP}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert tick.returncode == 0, tick.stdout + tick.stderr
    with sqlite3.connect(project / "examples" / "sqlsentinel.db") as db:
        rows = db.execute("SELECT alert, outcome FROM history").fetchall()
    db.close()
    assert rows == [("daily_revenue_check", "ok")]


def test_its_subject_fields_mean_what_they_meant(cli: Cli, project: Path) -> None:
    """The original formatted `subject` with str.format: {alert_name}, {status}, ..."""
    done = _in(cli, project)("notify-test", "examples/alerts.yaml", "--alert",
                             "daily_revenue_check", "--dry-run", "--json", env=SMTP)  # fmt: skip
    assert done.rc == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["would_send"]["subject"] == "Revenue Alert: daily_revenue_check"


@pytest.mark.parametrize(
    ("written", "template"),
    [
        (
            "{status}: {actual_value} of {threshold}",
            "{{ state }}: {{ actual_value }} of {{ threshold }}",
        ),
        ("no fields {here}", "no fields {here}"),
        ("{{ alert }} {alert_name}", "{{ alert }} {alert_name}"),  # already a template
    ],
)
def test_original_subject(written: str, template: str) -> None:
    assert original_subject(written) == template


def test_a_working_directory_that_is_gone_reads_paths_from_the_config_folder(
    tmp_path: Path,
) -> None:
    """A command entered into a container keeps its caller's working directory, which does
    not exist there (the booted-Debian test's `runuser … sqlsentinel validate` exited 70 with
    FileNotFoundError): relative paths are then read from the config's folder."""
    project = tmp_path / "project"
    project.mkdir()
    config = project / "alerts.yaml"
    config.write_text(
        'database:\n  url: "sqlite:///data.db"\nstate_db: "sqlite:///state.db"\nalerts:\n'
        "  - name: a\n    query: SELECT 'OK' AS status\n    schedule: '0 * * * *'\n"
    )
    sqlite3.connect(project / "data.db").close()
    gone = tmp_path / "gone"
    gone.mkdir()
    command = shlex.join([sys.executable, "-m", "sqlsentinel"])
    for args in ("validate", "run", "status", "metrics"):
        done = subprocess.run(  # the shell leaves its working directory, then removes it
            ["sh", "-c", f'cd "$1" && rmdir "$1" && exec {command} {args} "$2"', "sh", gone,
             config],
            env=cli_env(tmp_path), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, (args, done.stderr)
        gone.mkdir()
    with sqlite3.connect(project / "state.db") as db:
        assert db.execute("SELECT alert, outcome FROM history").fetchall() == [("a", "ok")]
