"""One alert's problem is that alert's problem (issue 11, item 2; issue 9, item 15).

A problem the environment causes in what only some alerts use makes just those alerts
broken: `validate` reports it (exit 3), a run of another alert is not stopped by it, and a
run of a broken alert records an ERROR with outcome `config_error` and the message.
"""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest
from support import Cli

from sqlsentinel.config.loader import load_text
from sqlsentinel.config.run_loader import load_for_run
from sqlsentinel.errors import ConfigError

TWO = """\
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: good
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
  - name: bad
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
    notify:
      - channel: webhook
        url: ${BAD_HOOK_URL}
"""
UNSET = (
    "alerts.yaml:13: alerts[1].notify[0].url (alert 'bad'): environment variable "
    "BAD_HOOK_URL is not set (write ${BAD_HOOK_URL:-default} to give a default)"
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "target.db").touch()
    path = tmp_path / "alerts.yaml"
    path.write_text(TWO)
    return path


def test_validate_reports_the_broken_alert_and_fails(cli: Cli, config: Path) -> None:
    result = cli("validate", config.name)
    assert (result.rc, result.stderr.splitlines(), result.stdout) == (3, [f"error: {UNSET}"], "")


def test_a_run_of_another_alert_is_not_stopped(cli: Cli, config: Path) -> None:
    for _ in range(2):  # cold (full load), then warm (from the spec cache)
        result = cli("run", config.name, "--alert", "good", "--json")
        assert result.rc == 0, result.stderr
        assert [r["outcome"] for r in json.loads(result.stdout)] == ["ok"]


def test_a_run_of_the_broken_alert_records_an_error(cli: Cli, config: Path) -> None:
    for _ in range(2):  # cold, then from the cache
        result = cli("run", config.name, "--alert", "bad", "--json")
        assert result.rc == 3, result.stderr
        (row,) = json.loads(result.stdout)
        assert (row["outcome"], row["state"], row["error"]) == ("config_error", "ERROR", UNSET)
        assert f"error={UNSET!r}" in result.stderr  # the journal says why
    (latest, first) = json.loads(cli("history", config.name, "--json").stdout)
    assert (latest["outcome"], latest["error"]) == ("config_error", UNSET)
    assert (first["transition"], latest["transition"]) == ("error", "still_error")
    (status,) = [r for r in json.loads(cli("status", config.name, "--json").stdout)
                 if r["alert"] == "bad"]  # fmt: skip
    assert status["state"] == "ERROR"


def test_a_dry_run_shows_the_broken_alert_and_records_nothing(cli: Cli, config: Path) -> None:
    result = cli("run", config.name, "--dry-run", "--json")
    assert result.rc == 3, result.stderr
    rows = {r["alert"]: r for r in json.loads(result.stdout)}
    assert rows["good"]["outcome"] == "ok"
    assert (rows["bad"]["outcome"], rows["bad"]["error"]) == ("config_error", UNSET)
    assert json.loads(cli("history", config.name, "--json").stdout) == []


def test_a_run_of_every_alert_runs_the_good_ones(cli: Cli, config: Path) -> None:
    result = cli("run", config.name, "--json")
    assert result.rc == 3, result.stderr
    assert {r["alert"]: r["outcome"] for r in json.loads(result.stdout)} == {
        "good": "ok",
        "bad": "config_error",
    }
    fixed = cli("run", config.name, "--json", env={"BAD_HOOK_URL": "http://127.0.0.1:9/h"})
    assert {r["alert"]: r["outcome"] for r in json.loads(fixed.stdout)} == {
        "good": "ok",
        "bad": "ok",
    }


def test_healthcheck_and_notify_test_name_the_alert(cli: Cli, config: Path) -> None:
    health = cli("healthcheck", config.name, "--json")
    assert health.rc == 6
    rows = {r["check"]: r for r in json.loads(health.stdout)}
    assert rows["alert bad"] == {"check": "alert bad", "ok": False, "detail": UNSET}
    assert rows["config"]["ok"] is True
    broken = cli("notify-test", config.name, "--alert", "bad", "--dry-run")
    assert (broken.rc, broken.stderr.strip()) == (3, f"error: {UNSET}")


SCOPES = """\
database:
  url: ${MAIN_DB}
databases:
  warehouse:
    url: ${WAREHOUSE_DB}
smtp:
  host: smtp.example.com
  password: ${SMTP_PASSWORD}
defaults:
  schedule: '* * * * *'
  notify:
    - channel: webhook
      url: ${TEAM_HOOK}
alerts:
  - {name: main, query: SELECT 1, notify: []}
  - {name: stock, query: SELECT 1, database: warehouse, notify: []}
  - {name: team, query: SELECT 1, database: warehouse}
  - name: mail
    query: SELECT 1
    database: warehouse
    notify: [{channel: email, recipients: [ops@example.com]}]
"""
SET = {
    "MAIN_DB": "sqlite:////tmp/a.db",
    "WAREHOUSE_DB": "sqlite:////tmp/w.db",
    "SMTP_PASSWORD": "pw",
    "TEAM_HOOK": "https://example.com/hook",
}


@pytest.mark.parametrize(
    ("unset", "broken"),
    [
        ("MAIN_DB", {"main"}),  # the default database: the alerts without database:
        ("WAREHOUSE_DB", {"stock", "team", "mail"}),  # a named one: the alerts naming it
        ("SMTP_PASSWORD", {"mail"}),  # the smtp: block: the alerts that send email
        ("TEAM_HOOK", {"team"}),  # defaults: the alerts that inherit the value
    ],
)
def test_a_problem_belongs_to_the_alerts_that_use_it(unset: str, broken: set[str]) -> None:
    env = {k: v for k, v in SET.items() if k != unset}
    loaded = load_text(SCOPES, "c.yaml", env)
    assert set(loaded.broken) == broken
    assert {a.name for a in loaded.alerts} == {"main", "stock", "team", "mail"} - broken
    for problems in loaded.broken.values():
        assert [f"environment variable {unset} is not set" in str(p) for p in problems] == [True]


def test_a_bad_value_from_the_environment_is_the_alerts_problem_too() -> None:
    loaded = load_text(SCOPES, "c.yaml", {**SET, "TEAM_HOOK": "not a url"})
    assert list(loaded.broken) == ["team"]
    (problem,) = loaded.broken["team"]
    assert (
        str(problem) == "c.yaml:13: defaults.notify[0].url: must be an http(s) URL, not 'not a url'"
    )


def test_smtp_variables_belong_to_the_alerts_that_send_email() -> None:
    text = SCOPES.replace("smtp:\n  host: smtp.example.com\n  password: ${SMTP_PASSWORD}\n", "")
    loaded = load_text(text, "c.yaml", {**SET, "SMTP_HOST": "mail", "SMTP_PORT": "abc"})
    assert list(loaded.broken) == ["mail"]
    assert [str(p) for p in loaded.broken["mail"]] == [
        "c.yaml:1: SMTP settings from the environment: SMTP_PORT='abc': expected a positive number"
    ]


@pytest.mark.parametrize(
    "text",
    [
        TWO.replace("state_db: state.db", "state_db: ${STATE}"),  # used by every alert
        TWO.replace("name: bad", "name: ${BAD_NAME}"),  # no name to record it under
        TWO.replace("${BAD_HOOK_URL}", "${BAD HOOK}"),  # a typo, not the environment
        TWO.replace("schedule: '*/5 * * * *'\n    notify", "schedule: nope\n    notify"),
    ],
)
def test_everything_else_is_the_files_problem(text: str) -> None:
    with pytest.raises(ConfigError):
        load_text(dedent(text), "alerts.yaml", {})


def test_missing_smtp_warns_in_validate_and_fails_the_alert_where_it_runs(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "target.db").touch()
    path = tmp_path / "mail.yaml"
    path.write_text(
        TWO.replace("${BAD_HOOK_URL}", "https://example.com/hook")
        + "  - name: mailer\n    query: SELECT 'OK' AS status\n    schedule: '0 * * * *'\n"
        "    notify:\n      - channel: email\n        recipients: [ops@example.com]\n"
    )
    validated = cli("validate", path.name)
    assert validated.rc == 0 and validated.stderr.startswith("warning: mail.yaml:18: ")
    assert "SMTP_HOST is not set here" in validated.stderr
    assert cli("validate", path.name, "--strict").rc == 3
    message = (
        "mail.yaml:14: alert 'mailer' sends email, but no SMTP server is configured: set "
        "SMTP_HOST in the environment of its runs (for systemd: install-units --env-file) "
        "or add an smtp: block"
    )
    health = cli("healthcheck", path.name, "--json")
    assert health.rc == 6
    assert {"check": "alert mailer", "ok": False, "detail": message} in json.loads(health.stdout)
    for _ in range(2):  # cold, then from the cache
        ran = cli("run", path.name, "--alert", "mailer", "--json")
        assert ran.rc == 3 and json.loads(ran.stdout)[0]["error"] == message
        assert cli("run", path.name, "--alert", "good").rc == 0
    with_smtp = cli("run", path.name, "--alert", "mailer", env={"SMTP_HOST": "127.0.0.1"})
    assert with_smtp.rc == 0, with_smtp.stderr


def test_the_loaded_selection_says_why(config: Path, tmp_path: Path) -> None:
    env = {"SQLSENTINEL_CACHE_DIR": str(tmp_path / "cache")}
    selection = load_for_run(str(config), ["good", "bad"], env)
    assert [a.name for a in selection.alerts] == ["good"]
    assert selection.broken == {"bad": UNSET.replace("alerts.yaml", str(config))}
