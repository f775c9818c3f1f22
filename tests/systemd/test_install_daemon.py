"""`install-daemon`: the supervisor's own unit for the program that runs the command (a pip
install's interpreter), in a real `systemd --user` manager, and the packages' units as
the same template rendered for /usr/bin/sqlsentinel."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import cli_env
from systemd_harness import REPO, UserManager, write_config

from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.errors import ExitCode
from sqlsentinel.systemd.daemon_unit import render_daemon_unit, shipped

pytestmark = pytest.mark.systemd
UNIT = "sqlsentinel.service"
ALERT = "- name: pip user\n  query: SELECT 'OK' AS status\n  schedule: '0 4 * * *'\n"


@pytest.mark.parametrize("system", [True, False])
def test_the_shipped_units_are_the_template_rendered_for_the_packages(system: bool) -> None:
    shipped_file = REPO / "systemd" / ("" if system else "user") / UNIT
    assert render_daemon_unit(shipped(system)) == shipped_file.read_text()


@pytest.fixture
def daemon_unit(user_manager: UserManager) -> Iterator[UserManager]:
    yield user_manager
    user_manager.sqlsentinel("uninstall-daemon", "--user", check=False)
    runtime = Path(user_manager.env["XDG_RUNTIME_DIR"]) / "systemd" / "user"
    user_manager.sqlsentinel("uninstall-units", "--user", "--unit-dir", str(runtime), check=False)


def _env_file(um: UserManager, workdir: Path) -> str:
    """The daemon's env file: its state in the manager's temp folder (root's default is the
    machine's /var/lib/sqlsentinel)."""
    env = workdir / "sqlsentinel.env"
    env.write_text(f"STATE_DIRECTORY={um.env['STATE_DIRECTORY']}\n")
    env.chmod(0o600)
    return str(env)


def _why(um: UserManager) -> str:
    """The daemon's status and the journal's last lines (for a failure's message)."""
    journal = um.in_namespace("journalctl", "--no-pager", "-n", "40", check=False).stdout
    return um.systemctl("status", UNIT, check=False) + journal


def _exec_start(text: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_install_daemon_runs_this_interpreter_until_ready_and_uninstall_daemon_removes_it(
    daemon_unit: UserManager, workdir: Path
) -> None:
    um = daemon_unit
    config = write_config(workdir, ALERT)
    env = _env_file(um, workdir)
    done = um.sqlsentinel("install-daemon", "--user", str(config), "--env-file", env)
    unit = um.unit_dir / UNIT
    argv = _exec_start(unit.read_text())
    assert argv[:5] == [sys.executable, "-m", "sqlsentinel", "daemon", str(config)]
    shown = um.show(UNIT, "ActiveState", "SubState", "UnitFileState", "StatusText", "MainPID")
    assert (shown["ActiveState"], shown["SubState"], shown["UnitFileState"]) == (
        "active", "running", "enabled"
    ), done.stderr + _why(um)  # fmt: skip
    assert shown["StatusText"], shown  # the daemon's STATUS= line: it spoke sd_notify
    timer = f"{unit_base('pip user')}.timer"
    runtime = Path(um.env["XDG_RUNTIME_DIR"]) / "systemd" / "user"
    assert um.show(timer, "ActiveState", "FragmentPath") == {
        "ActiveState": "active",
        "FragmentPath": str(runtime / timer),
    }

    again = um.sqlsentinel("install-daemon", "--user", str(config), "--env-file", env, check=False)
    assert again.returncode == 0, again.stderr + _why(um)
    assert um.show(UNIT, "MainPID")["MainPID"] == shown["MainPID"], again.stderr  # unchanged

    removed = um.sqlsentinel("uninstall-daemon", "--user")
    assert not unit.exists()
    assert um.show(UNIT, "ActiveState")["ActiveState"] == "inactive", _why(um)
    assert um.show(timer, "ActiveState")["ActiveState"] == "active"  # independent units
    advice = re.search(r"(sqlsentinel uninstall-units .*)$", removed.stderr, re.M)
    assert advice is not None, removed.stderr
    um.sqlsentinel(*shlex.split(advice.group(1))[1:])
    assert not (runtime / timer).exists()


def test_install_daemon_fails_when_the_daemon_cannot_start_and_refuses_a_bad_config(
    daemon_unit: UserManager, workdir: Path
) -> None:
    um = daemon_unit
    bad = write_config(workdir, "- name: a\n  query: SELECT 1\n  schedule: '61 * * * *'\n")
    refused = um.sqlsentinel("install-daemon", "--user", str(bad), check=False)
    assert refused.returncode == ExitCode.CONFIG
    assert not (um.unit_dir / UNIT).exists()
    config = write_config(workdir, ALERT)
    broken = um.sqlsentinel(
        "install-daemon", "--user", str(config), "--exec", "/bin/false", check=False
    )  # never starts: nothing reaches a state folder
    assert broken.returncode == ExitCode.SYSTEMD, broken.stderr


def test_dry_run_prints_a_unit_systemd_accepts(tmp_path: Path) -> None:
    config = write_config(tmp_path, ALERT)
    argv = [sys.executable, "-m", "sqlsentinel", "install-daemon", "--system", str(config)]
    done = subprocess.run(
        [*argv, "--dry-run"], capture_output=True, text=True, env=cli_env(tmp_path), check=False
    )
    assert done.returncode == 0, done.stderr
    unit = tmp_path / UNIT
    unit.write_text(done.stdout)
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr
    assert f"ReadWritePaths=/run/systemd/system /var/lib/sqlsentinel {tmp_path}" in done.stdout
    assert json.dumps(str(config)) in done.stdout  # quoted for systemd
