"""The daemon's --timezone, --database-url and DATABASE_URL, as the loader applies them."""

from __future__ import annotations

import pytest

from sqlsentinel.config.fallbacks import Fallbacks
from sqlsentinel.config.loader import load_text
from sqlsentinel.errors import ConfigError

NO_DATABASE = """\
alerts:
  - name: plain
    query: SELECT 'OK' AS status
    schedule: "0 9 * * *"
  - name: zoned
    query: SELECT 'OK' AS status
    schedule: "0 9 * * *"
    timezone: Asia/Tokyo
"""
WITH_DATABASE = "database:\n  url: sqlite:////data/config.db\n" + NO_DATABASE


def test_timezone_is_the_default_of_alerts_that_set_none() -> None:
    loaded = load_text(WITH_DATABASE, "/c/a.yaml", {}, Fallbacks(timezone="Europe/Paris"))
    zones = {a.name: a.timezone for a in loaded.alerts}
    assert zones == {"plain": "Europe/Paris", "zoned": "Asia/Tokyo"}
    assert loaded.translations["plain"].on_calendar == ("*-*-* 09:00:00 Europe/Paris",)


def test_database_url_serves_a_config_without_one() -> None:
    with pytest.raises(ConfigError, match="no database"):
        load_text(NO_DATABASE, "/c/a.yaml", {})
    loaded = load_text(NO_DATABASE, "/c/a.yaml", {}, Fallbacks(database_url="sqlite:////env.db"))
    assert {a.database.url for a in loaded.alerts} == {"sqlite:////env.db"}
    assert loaded.warnings == ()


def test_the_environment_never_overrides_the_config_but_warns_naming_both() -> None:
    env_url = "postgresql://reader:secret@db/shop"
    loaded = load_text(WITH_DATABASE, "/c/a.yaml", {}, Fallbacks(database_url=env_url))
    assert {a.database.url for a in loaded.alerts} == {"sqlite:////data/config.db"}
    (warning,) = loaded.warnings
    assert "DATABASE_URL is postgresql://reader:…redacted@db/shop" in str(warning)
    assert "the config names sqlite:////data/config.db" in str(warning)
    assert str(warning).startswith("/c/a.yaml:2: database.url")
    same = load_text(
        WITH_DATABASE, "/c/a.yaml", {}, Fallbacks(database_url="sqlite:////data/config.db")
    )
    assert same.warnings == ()


def test_the_command_line_overrides_the_configs_default_database() -> None:
    given = Fallbacks(database_url="sqlite:////cli.db", database_url_overrides=True)
    loaded = load_text(WITH_DATABASE, "/c/a.yaml", {}, given)
    assert {a.database.url for a in loaded.alerts} == {"sqlite:////cli.db"}
    assert loaded.warnings == ()


def test_fallbacks_round_trip_and_key_the_cache() -> None:
    f = Fallbacks("UTC", "sqlite:////x.db", True)
    assert Fallbacks.from_json(f.to_json()) == f
    assert Fallbacks().key() == b"" and f.key() != Fallbacks("UTC").key()
