"""The Dockerfile: built with podman, run as its non-root user, state in /data or STATE_DB_URL."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from package_build import REPO, VERSION
from podman_image import build_image, cannot_run_podman, podman
from support import Cli

UID = 10001  # the image's sqlsentinel user (Dockerfile)


@pytest.fixture(scope="module")
def image() -> str:
    """The image built from this checkout's Dockerfile."""
    reason = cannot_run_podman()
    if reason:
        pytest.skip(f"this machine cannot build images: {reason}")
    return build_image()


def _run(image: str, *args: str, env: dict[str, str] | None = None) -> str:
    flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
    return podman("run", "--rm", "--network=host", *flags, image, *args).stdout


def test_the_image_runs_the_cli_as_its_non_root_user(image: str) -> None:
    assert _run(image, "--version") == f"sqlsentinel, version {VERSION}\n"
    ids = podman("run", "--rm", "--entrypoint", "id", image).stdout
    assert ids.startswith(f"uid={UID}(sqlsentinel) gid={UID}(sqlsentinel)")


def test_the_image_defaults_to_the_local_daemon_with_a_healthcheck(image: str) -> None:
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["Entrypoint"] == ["tini", "--", "sqlsentinel"]
    assert config["Cmd"] == ["daemon", "/config/alerts.yaml", "--backend", "local"]
    assert config["User"] == "sqlsentinel" and "/data" in config["Volumes"]
    assert inspected["Healthcheck"]["Test"] == [
        "CMD", "sqlsentinel", "healthcheck", "/config/alerts.yaml"
    ]  # fmt: skip


def test_the_example_config_validates_and_is_healthy_in_the_image(image: str) -> None:
    assert "ok: 1 alerts" in _run(image, "validate", "/config/alerts.yaml")
    health = json.loads(_run(image, "healthcheck", "/config/alerts.yaml", "--json"))
    assert [c["check"] for c in health if c["ok"]][:2] == ["config", "state database"], health
    assert all(check["ok"] for check in health), health


def test_state_db_url_names_the_state_database(image: str, pg_url: str) -> None:
    env = {"STATE_DB_URL": pg_url.replace("+psycopg", "")}  # as docker-compose.yaml writes it
    _run(image, "run", "/config/alerts.yaml", "--triggered-by", "CRON", env=env)
    # a new container (with a fresh /data) sees the run: it is in PostgreSQL
    rows = json.loads(_run(image, "history", "/config/alerts.yaml", "--json", env=env))
    assert [(r["alert"], r["triggered_by"]) for r in rows] == [("example_failed_jobs", "CRON")]


def test_compose_runs_the_image_on_a_postgresql_state_database() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    app, database = compose["services"]["sqlsentinel"], compose["services"]["state-db"]
    assert app["build"] == "." and app["depends_on"]["state-db"]["condition"] == "service_healthy"
    assert app["environment"]["STATE_DB_URL"].startswith("postgresql://sqlsentinel:")
    assert "/config/alerts.yaml" in " ".join(app["volumes"])
    assert database["environment"]["POSTGRES_DB"] == "sqlsentinel"
    example = (REPO / ".env.example").read_text()
    for name in ("POSTGRES_PASSWORD", "DATABASE_URL", "SMTP_HOST", "SMTP_PASSWORD"):
        assert f"\n{name}=" in example


@pytest.fixture
def daemon_container(image: str, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The image's default command on a config with a `* * * * *` alert; /data mounted."""
    config, data = tmp_path / "config", tmp_path / "data"
    config.mkdir()
    data.mkdir()
    os.chown(data, UID, UID)
    (config / "alerts.yaml").write_text(
        "database:\n  url: sqlite:////usr/share/sqlsentinel/example.db\nalerts:\n"
        "  - name: every_minute\n    query: SELECT 'OK' AS status\n"
        '    schedule: "* * * * *"\n'
    )
    name = f"sqs-daemon-{os.getpid()}"
    podman("run", "--detach", "--name", name, "--volume", f"{config}:/config:ro",
           "--volume", f"{data}:/data", image)  # fmt: skip
    try:
        yield name, config / "alerts.yaml", data
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def test_the_daemon_records_cron_runs_in_the_volume_and_stops_on_sigterm(
    daemon_container: tuple[str, Path, Path], tmp_path: Path
) -> None:
    name, config, data = daemon_container
    cli = Cli(tmp_path)
    deadline = time.monotonic() + 75
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline and not rows:
        time.sleep(2)
        done = cli("history", config, "--state-db", f"sqlite:///{data}/state.db", "--json")
        rows = json.loads(done.stdout) if done.rc == 0 else []
    assert [(r["alert"], r["triggered_by"]) for r in rows][:1] == [("every_minute", "CRON")]
    assert podman("healthcheck", "run", name).returncode == 0
    started = time.monotonic()
    podman("stop", "--time", "10", name)
    assert time.monotonic() - started < 10
    state = json.loads(podman("inspect", name).stdout)[0]["State"]
    assert state["ExitCode"] == 0
