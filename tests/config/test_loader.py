"""Good configs: defaults, durations, ${VAR}, line numbers, legacy forms, the compiled cache."""

from __future__ import annotations

import stat
from pathlib import Path
from textwrap import dedent, indent
from typing import Any

import pytest
from support import make_target

from sqlsentinel.config import loader
from sqlsentinel.config.loader import LoadedConfig, load_file, load_text
from sqlsentinel.config.run_loader import load_for_run
from sqlsentinel.core.spec import AlertSpec, Settings
from sqlsentinel.errors import ConfigError, UsageError

SMTP = {"SMTP_HOST": "mail.example.com"}


def load(text: str, environ: dict[str, str] | None = None, source: str = "c.yaml") -> LoadedConfig:
    return load_text(dedent(text), source, environ or {})


def one(text: str, environ: dict[str, str] | None = None) -> AlertSpec:
    (alert,) = load(text, environ).alerts
    return alert


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text, environ)
    return [str(p) for p in info.value.problems]


MINIMAL = """\
database:
  url: sqlite:////tmp/x.db
alerts:
  - name: a
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
"""


def fields(text: str) -> str:
    """`text` indented as more fields of the last alert."""
    return indent(dedent(text), "    ")


# ------------------------------------------------------------------ defaults


def test_built_in_defaults() -> None:
    a = one(MINIMAL)
    assert a.name == "a"
    assert a.enabled is True
    assert a.description is None
    assert a.timezone == "UTC"
    assert a.timeout == 30.0
    assert a.for_ == 0.0
    assert a.repeat_interval is None
    assert a.notify_on_resolve is True
    assert a.notify_on_error is True
    assert a.on_error == "error"
    assert a.on_no_data == "error"
    assert a.notify == ()
    assert a.tags == ()
    assert a.persistent is True
    assert a.database.url == "sqlite:////tmp/x.db"
    assert a.database.read_only is True
    assert a.line == 4


def test_settings_defaults() -> None:
    settings = load(MINIMAL).settings
    assert settings.state_db is None
    assert settings.history_retention == 90 * 86400
    assert settings.smtp is None
    assert settings.alert_names == ("a",)


def test_defaults_block_applies_and_alert_overrides() -> None:
    cfg = load(
        """\
        database:
          url: sqlite:////tmp/x.db
        defaults:
          timeout: 10s
          for: 5m
          on_no_data: ok
          timezone: Europe/London
          tags: team-db
          persistent: false
        alerts:
          - name: inherits
            query: SELECT 1
            schedule: '0 9 * * *'
          - name: overrides
            query: SELECT 1
            schedule: '0 9 * * *'
            timeout: 2m
            on_no_data: alert
            timezone: UTC
            tags: [a, b]
            persistent: true
        """
    )
    inherits, overrides = cfg.alerts
    assert (inherits.timeout, inherits.for_, inherits.on_no_data) == (10.0, 300.0, "ok")
    assert (inherits.timezone, inherits.tags, inherits.persistent) == (
        "Europe/London",
        ("team-db",),
        False,
    )
    assert (overrides.timeout, overrides.for_, overrides.on_no_data) == (120.0, 300.0, "alert")
    assert (overrides.timezone, overrides.tags, overrides.persistent) == ("UTC", ("a", "b"), True)


# ------------------------------------------------------------------ durations


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("4h", 14400),
        ("1d", 86400),
        ("1h30m", 5400),
        ("45", 45),
        ("'45'", 45),
        ("2.5", 2.5),
    ],
)
def test_durations(written: str, seconds: float) -> None:
    a = one(MINIMAL + f"    timeout: {written}\n    repeat_interval: {written}\n")
    assert a.timeout == seconds
    assert a.repeat_interval == seconds


def test_history_retention_duration() -> None:
    cfg = load("history_retention: 30d\n" + dedent(MINIMAL))
    assert cfg.settings.history_retention == 30 * 86400


# ------------------------------------------------------------------ ${VAR}


def test_env_substitution_forms() -> None:
    text = MINIMAL + fields(
        """\
        description: "${SET} ${UNSET:-dflt} ${EMPTY:-dflt} [${EMPTY-dflt}] ${UNSET-dash} $${SET}"
        """
    )
    a = one(text, {"SET": "v", "EMPTY": ""})
    assert a.description == "v dflt dflt [] dash ${SET}"


def test_env_used_lists_every_variable_read() -> None:
    cfg = load(MINIMAL + '    description: "${A} ${B:-x} $${NOT_A_VAR}"\n', {"A": "1", "B": "2"})
    assert {"A", "B"} <= cfg.env_used
    assert "NOT_A_VAR" not in cfg.env_used


def test_substitution_cannot_break_yaml() -> None:
    nasty = "SELECT 'a: b' AS status -- # not a comment\nFROM t\n  key: value"
    a = one(MINIMAL.replace("SELECT 'OK' AS status", "${Q}"), {"Q": nasty})
    assert a.query == nasty


def test_substituted_database_url() -> None:
    a = one(MINIMAL.replace("sqlite:////tmp/x.db", "${DB_URL}"), {"DB_URL": "sqlite:////srv/y.db"})
    assert a.database.url == "sqlite:////srv/y.db"


def test_unset_variable_names_it() -> None:
    cfg = load(MINIMAL + "    description: ${NOPE}\n")  # only alert `a` reads it: `a` is broken
    assert cfg.alerts == () and list(cfg.broken) == ["a"]
    assert [str(p) for p in cfg.broken_problems()] == [
        "c.yaml:7: alerts[0].description (alert 'a'): environment variable NOPE is not set "
        "(write ${NOPE:-default} to give a default)"
    ]


# ------------------------------------------------------------------ line numbers


def test_problem_lines_point_at_the_value() -> None:
    text = """\
        database:
          url: sqlite:////tmp/x.db
        alerts:
          - name: a
            query: SELECT 1
            schedule: '* * * * *'
          - name: b
            query: SELECT 1
            schedule: '* * * * *'
            timeout: never
    """
    assert problems(text) == [
        "c.yaml:10: alerts[1].timeout (alert 'b'): "
        "'never' is not a duration; write it like 90s, 5m, 4h, 1d or 1h30m"
    ]
    two = load(text.replace("never", "1m")).alerts
    assert [a.line for a in two] == [4, 7]


def test_inherited_value_points_at_defaults_line() -> None:
    text = """\
        database:
          url: sqlite:////tmp/x.db
        defaults:
          schedule: '61 * * * *'
        alerts:
          - name: a
            query: SELECT 1
    """
    (message,) = problems(text)
    assert message.startswith("c.yaml:4: alerts[0].schedule (alert 'a'): `61` is out of range")


def test_inherited_notify_points_at_defaults_line() -> None:
    text = """\
        database:
          url: sqlite:////tmp/x.db
        defaults:
          notify:
            - channel: email
              recipients: [ops@example.com]
        alerts:
          - name: a
            query: SELECT 1
            schedule: '* * * * *'
    """
    (warning,) = load(text).warnings  # SMTP_HOST may be set where the alert runs
    assert str(warning) == (
        "c.yaml:5: alerts[0].notify[0] (alert 'a'): email needs SMTP settings, and SMTP_HOST "
        "is not set here: set it where the alert runs (its runs fail without it) or add an "
        "smtp: block (with host:)"
    )
    a = one(text, SMTP)
    assert a.notify == (make_target("email", recipients=["ops@example.com"]),)


# ------------------------------------------------------------------ original SQL Sentinel forms


LEGACY = """\
    database:
      url: sqlite:////tmp/x.db
    alerts:
      - name: legacy
        description: written for the original SQL Sentinel
        query: SELECT 'ALERT' AS status, 5 AS actual_value, 3 AS threshold
        schedule: '0 * * * *'
        enabled: false
        notify:
          - channel: email
            recipients:
              - ops@example.com
              - Dba Team <dba@example.com>
            subject: "[{{ state }}] {{ alert }}"
          - channel: slack
            webhook: https://hooks.slack.com/services/T/B/X
            channel: "#alerts"
            username: sentinel
          - channel: webhook
            url: https://example.com/hook
            method: put
            headers:
              Authorization: Bearer abc
              X-Env: prod
"""


def test_original_sql_sentinel_config() -> None:
    a = one(LEGACY, SMTP)
    assert a.enabled is False
    assert a.description == "written for the original SQL Sentinel"
    email, slack, webhook = a.notify
    assert email == make_target(
        "email",
        recipients=["ops@example.com", "Dba Team <dba@example.com>"],
        subject="[{{ state }}] {{ alert }}",
    )
    assert slack == make_target(
        "slack",
        webhook_url="https://hooks.slack.com/services/T/B/X",
        slack_channel="#alerts",
        username="sentinel",
    )
    assert webhook == make_target(
        "webhook",
        url="https://example.com/hook",
        method="PUT",
        headers={"Authorization": "Bearer abc", "X-Env": "prod"},
    )


def test_slack_channel_given_first() -> None:
    text = MINIMAL + fields(
        """\
        notify:
          - channel: "#ops"
            channel: slack
            webhook_url: https://hooks.slack.com/services/T/B/X
        """
    )
    (slack,) = one(text).notify
    assert slack == make_target(
        "slack", webhook_url="https://hooks.slack.com/services/T/B/X", slack_channel="#ops"
    )


def test_email_recipients_may_be_one_string_and_smtp_block() -> None:
    smtp = "smtp:\n  host: mail.example.com\n  port: 465\n  ssl: true\n"
    cfg = load(
        smtp
        + MINIMAL
        + fields(
            """\
            notify:
              - channel: email
                recipients: ops@example.com
            """
        )
    )
    (email,) = cfg.alerts[0].notify
    assert email == make_target("email", recipients=["ops@example.com"])
    assert cfg.settings.smtp is not None
    assert (cfg.settings.smtp.host, cfg.settings.smtp.port, cfg.settings.smtp.ssl) == (
        "mail.example.com",
        465,
        True,
    )


def test_webhook_secret_timeout_attempts() -> None:
    text = MINIMAL + fields(
        """\
        notify:
          - channel: webhook
            url: http://localhost:9000/hook
            secret: s3cret
            timeout: 3s
            max_attempts: 2
        """
    )
    (hook,) = one(text).notify
    assert hook == make_target(
        "webhook", url="http://localhost:9000/hook", secret="s3cret", timeout=3.0, max_attempts=2
    )


# ------------------------------------------------------------------ databases and paths


def test_relative_sqlite_paths_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the original SQL Sentinel and SQLAlchemy read them (issue 17.18); a file that
    exists only beside the config is found there (test_a_file_only_beside_the_config…)."""
    folder = tmp_path / "etc"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    config = folder / "sentinel.yaml"
    config.write_text(
        dedent(
            """\
            database:
              url: sqlite:///data/app.db
            databases:
              abs:
                url: sqlite:////var/db/abs.db
              mem:
                url: "sqlite:///:memory:"
              pg:
                url: postgresql://reader:pw@db.example.com:5432/app
                read_only: false
            state_db: sqlite:///state/state.db
            alerts:
              - {name: rel, query: SELECT 1, schedule: '* * * * *'}
              - {name: abs, query: SELECT 1, schedule: '* * * * *', database: abs}
              - {name: mem, query: SELECT 1, schedule: '* * * * *', database: mem}
              - {name: pg, query: SELECT 1, schedule: '* * * * *', database: pg}
            """
        )
    )
    cfg = load_file(str(config), {})
    rel, absolute, mem, pg = cfg.alerts
    assert rel.database.url == f"sqlite:///{tmp_path.resolve()}/data/app.db"
    assert rel.database.name == "default"
    assert absolute.database.url == "sqlite:////var/db/abs.db"
    assert absolute.database.name == "abs"
    assert mem.database.url == "sqlite:///:memory:"
    assert pg.database.url == "postgresql://reader:pw@db.example.com:5432/app"
    assert pg.database.read_only is False
    assert rel.database.read_only is True
    assert cfg.settings.state_db == f"sqlite:///{tmp_path.resolve()}/state/state.db"
    assert [w.path for w in cfg.warnings] == ["database.url", "state_db"]  # readings differ
    (folder / "data").mkdir()
    (folder / "data" / "app.db").touch()  # only beside the config: that one
    (rel, *_) = load_file(str(config), {}).alerts
    assert rel.database.url == f"sqlite:///{folder.resolve()}/data/app.db"


def test_named_databases_without_default() -> None:
    cfg = load(
        """\
        databases:
          main: {url: "sqlite:////tmp/main.db"}
        defaults:
          database: main
        alerts:
          - {name: a, query: SELECT 1, schedule: '* * * * *'}
        """
    )
    assert cfg.alerts[0].database.name == "main"


def test_tags_string_or_list_and_timezone() -> None:
    cfg = load(
        """\
        database: {url: "sqlite:////tmp/x.db"}
        alerts:
          - {name: a, query: SELECT 1, schedule: '0 9 * * *', tags: solo, timezone: Asia/Tokyo}
          - {name: b, query: SELECT 1, schedule: '0 9 * * *', tags: [x, y]}
        """
    )
    assert cfg.alerts[0].tags == ("solo",)
    assert cfg.alerts[0].timezone == "Asia/Tokyo"
    assert cfg.alerts[1].tags == ("x", "y")


# ------------------------------------------------------------------ compiled cache


CACHED = """\
database:
  url: ${DB_URL:-sqlite:////tmp/default.db}
alerts:
  - name: disk_full
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
    timeout: 20s
  - name: replication_lag
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
"""


@pytest.fixture
def cached(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "sentinel.yaml"
    config.write_text(CACHED)
    return config, {"SQLSENTINEL_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}


def specs(path: str, names: list[str], env: dict[str, str]) -> tuple[Settings, list[AlertSpec]]:
    """The settings and alerts of a run (none of them broken)."""
    selection = load_for_run(path, names, env)
    assert selection.broken == {}
    return selection.settings, selection.alerts


def _no_full_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("full load: the compiled cache was not used")

    monkeypatch.setattr(loader, "load_text", refuse)


def test_cache_serves_second_run(
    cached: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env = cached
    settings, (alert,) = specs(str(config), ["disk_full"], env)
    assert alert.timeout == 20.0
    assert list((Path(env["SQLSENTINEL_CACHE_DIR"])).rglob("settings.json"))
    _no_full_load(monkeypatch)
    settings2, (again,) = specs(str(config), ["disk_full"], env)
    assert again == alert
    assert settings2 == settings


def _cache_modes(cached: tuple[Path, dict[str, str]], dirs: bool) -> dict[Path, int]:
    config, env = cached
    load_for_run(str(config), ["disk_full"], env)
    root = Path(env["SQLSENTINEL_CACHE_DIR"])
    found = {p: stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}
    return {p: mode for p, mode in found.items() if p.is_dir() == dirs}


def test_cache_is_private(cached: tuple[Path, dict[str, str]]) -> None:
    dirs = _cache_modes(cached, dirs=True)
    files = _cache_modes(cached, dirs=False)
    root = Path(cached[1]["SQLSENTINEL_CACHE_DIR"])
    assert dirs[root] == 0o700
    for path in dirs:  # the cache folder, each config's group and each entry
        if path.parent == root or path.parent.parent == root:
            assert dirs[path] == 0o700, path
    for path, mode in files.items():  # the HMAC key and the list of variables read
        if path.name == "key" or path.suffix == ".vars":
            assert mode == 0o600, path
    assert any(p.suffix == ".vars" for p in files)


def test_every_cache_file_is_0600_and_dir_0700(cached: tuple[Path, dict[str, str]]) -> None:
    assert {oct(m) for m in _cache_modes(cached, dirs=False).values()} == {"0o600"}
    assert {oct(m) for m in _cache_modes(cached, dirs=True).values()} == {"0o700"}


def test_modified_config_invalidates_cache(
    cached: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env = cached
    load_for_run(str(config), ["disk_full"], env)
    config.write_text(CACHED.replace("timeout: 20s", "timeout: 40s"))
    _, (alert,) = specs(str(config), ["disk_full"], env)
    assert alert.timeout == 40.0
    _no_full_load(monkeypatch)  # and the new version is cached in turn
    _, (again,) = specs(str(config), ["disk_full"], env)
    assert again.timeout == 40.0


def test_changed_env_var_invalidates_cache(cached: tuple[Path, dict[str, str]]) -> None:
    config, env = cached
    _, (first,) = specs(str(config), ["disk_full"], env)
    assert first.database.url == "sqlite:////tmp/default.db"
    _, (second,) = specs(str(config), ["disk_full"], {**env, "DB_URL": "sqlite:////a.db"})
    assert second.database.url == "sqlite:////a.db"
    _, (third,) = specs(str(config), ["disk_full"], {**env, "DB_URL": "sqlite:////b.db"})
    assert third.database.url == "sqlite:////b.db"


def test_run_without_names_returns_enabled_alerts(cached: tuple[Path, dict[str, str]]) -> None:
    config, env = cached
    config.write_text(CACHED + "    enabled: false\n")
    _, alerts = specs(str(config), [], env)
    assert [a.name for a in alerts] == ["disk_full"]


def test_unknown_alert_did_you_mean(cached: tuple[Path, dict[str, str]]) -> None:
    config, env = cached
    with pytest.raises(UsageError) as info:
        load_for_run(str(config), ["dsk_full"], env)
    assert str(info.value) == f"no alert named 'dsk_full' in {config}; did you mean 'disk_full'?"
    # also when the config is already cached
    load_for_run(str(config), ["disk_full"], env)
    with pytest.raises(UsageError, match="did you mean 'disk_full'"):
        load_for_run(str(config), ["dsk_full"], env)


def test_broken_config_is_never_cached(cached: tuple[Path, dict[str, str]]) -> None:
    config, env = cached
    config.write_text(CACHED.replace("timeout: 20s", "timeout: soon"))
    for _ in range(2):
        with pytest.raises(ConfigError):
            load_for_run(str(config), ["disk_full"], env)
