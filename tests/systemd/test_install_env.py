"""install-units tells the operator about environment the services will not have."""

from __future__ import annotations

from pathlib import Path

from support import Cli

CONFIG = """
database:
  url: sqlite:///t.db
alerts:
  - name: hook
    query: SELECT 'OK' AS status
    schedule: "*/5 * * * *"
    notify:
      - channel: webhook
        url: ${HOOK_URL}
        headers: {Authorization: "Bearer ${HOOK_TOKEN:-none}"}
"""


def _install(cli: Cli, tmp_path: Path, *extra: str) -> str:
    config = tmp_path / "alerts.yaml"
    config.write_text(CONFIG)
    units = tmp_path / "units"
    result = cli(
        "install-units", config, "--user", "--no-reload", "--unit-dir", units, *extra,
        env={"HOOK_URL": "http://127.0.0.1:9/hook"},
    )  # fmt: skip
    assert result.rc == 0, result.stderr
    assert sorted(p.suffix for p in units.glob("sqlsentinel-*")) == [".service", ".timer"]
    return result.stderr


def test_warns_when_the_services_will_lack_a_variable(cli: Cli, tmp_path: Path) -> None:
    stderr = _install(cli, tmp_path)
    assert "warning: the config reads HOOK_URL from the environment" in stderr
    assert "pass --env-file FILE" in stderr
    assert "HOOK_TOKEN" not in stderr  # unset here: its default applies everywhere


def test_env_file_that_defines_it_silences_the_warning(cli: Cli, tmp_path: Path) -> None:
    env_file = tmp_path / "sentinel.env"
    env_file.write_text("HOOK_URL=http://127.0.0.1:9/hook\n")
    env_file.chmod(0o600)
    assert "warning" not in _install(cli, tmp_path, "--env-file", env_file)
    env_file.write_text("OTHER=1\n")
    assert "HOOK_URL from the environment" in _install(cli, tmp_path, "--env-file", env_file)
    unit = next((tmp_path / "units").glob("*.service")).read_text()
    assert f"EnvironmentFile={env_file}" in unit and "127.0.0.1:9" not in unit
