"""One unit name, one owner, across configs and the manager's unit folders (a real
`systemd --user`: ~/.config/systemd/user for install-units, $XDG_RUNTIME_DIR/systemd/user
for the daemon)."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from systemd_harness import UserManager, write_config

from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.errors import ExitCode

pytestmark = pytest.mark.systemd
ALERT = "- name: {}\n  query: SELECT 'OK' AS status\n  schedule: '0 4 * * *'\n"
TIMER = f"{unit_base('disk')}.timer"


@pytest.fixture
def both(user_manager: UserManager) -> Iterator[tuple[UserManager, Path]]:
    """The manager and its runtime unit folder (the daemon's); both folders emptied after."""
    runtime = Path(user_manager.env["XDG_RUNTIME_DIR"]) / "systemd" / "user"
    yield user_manager, runtime
    for folder in (str(user_manager.unit_dir), str(runtime)):
        user_manager.sqlsentinel("uninstall-units", "--user", "--unit-dir", folder, check=False)


def _active(um: UserManager, unit: str) -> tuple[str, str]:
    shown = um.show(unit, "ActiveState", "FragmentPath")
    return shown["ActiveState"], shown["FragmentPath"]


def _advice(stderr: str) -> list[str]:
    found = re.search(r"`(sqlsentinel uninstall-units [^`]*)`", stderr)
    assert found is not None, stderr
    return shlex.split(found.group(1))[1:]


def test_a_second_config_with_the_same_alert_name_is_refused_in_either_folder(
    both: tuple[UserManager, Path], workdir: Path
) -> None:
    um, runtime = both
    first = write_config(workdir, ALERT.format("disk"), "first.yaml")
    second = write_config(workdir, ALERT.format("disk") + ALERT.format("other"), "second.yaml")
    um.sqlsentinel("install-units", "--user", str(first))
    before = (um.unit_dir / TIMER).read_text()
    for extra in ((), ("--unit-dir", str(runtime))):  # install-units' folder, the daemon's
        done = um.sqlsentinel("install-units", "--user", str(second), *extra, check=False)
        assert done.returncode == ExitCode.SYSTEMD, done.stderr
        assert str(first) in done.stderr and str(second) in done.stderr
    assert not list(runtime.glob("sqlsentinel-*"))
    assert not (um.unit_dir / f"{unit_base('other')}.timer").exists()
    assert (um.unit_dir / TIMER).read_text() == before
    assert _active(um, TIMER) == ("active", str(um.unit_dir / TIMER))


def test_the_advice_removes_the_other_copy_and_the_daemon_style_install_then_works(
    both: tuple[UserManager, Path], workdir: Path
) -> None:
    um, runtime = both
    config = write_config(workdir, ALERT.format("disk"))
    um.sqlsentinel("install-units", "--user", str(config))
    refused = um.sqlsentinel(
        "install-units", "--user", str(config), "--unit-dir", str(runtime), check=False
    )
    assert refused.returncode == ExitCode.SYSTEMD
    advice = um.sqlsentinel(*_advice(refused.stderr))  # the printed command, as printed
    assert not (um.unit_dir / TIMER).exists()
    um.sqlsentinel("install-units", "--user", str(config), "--unit-dir", str(runtime))
    assert _active(um, TIMER) == ("active", str(runtime / TIMER)), advice.stderr


def test_uninstalling_one_folder_leaves_the_same_named_timer_of_the_other_running(
    both: tuple[UserManager, Path], workdir: Path
) -> None:
    """Units a previous version let both install-units and the daemon install: removing
    install-units' copy (the daemon's advice) keeps the daemon's timer running."""
    um, runtime = both
    config = write_config(workdir, ALERT.format("disk"))
    um.sqlsentinel("install-units", "--user", str(config), "--unit-dir", str(runtime))
    blind = {k: v for k, v in um.env.items() if k != "XDG_RUNTIME_DIR"}  # cannot see the other
    argv = [sys.executable, "-m", "sqlsentinel", "install-units", "--user", str(config)]
    written = subprocess.run(
        [*argv, "--no-reload"], env=blind, capture_output=True, text=True, check=False
    )
    assert written.returncode == 0, written.stderr
    um.systemctl("daemon-reload")
    assert _active(um, TIMER) == ("active", str(um.unit_dir / TIMER))
    removed = um.sqlsentinel(
        "uninstall-units", str(config), "--user", "--unit-dir", str(um.unit_dir)
    )
    assert _active(um, TIMER) == ("active", str(runtime / TIMER)), removed.stderr
    assert (runtime / TIMER).exists() and not (um.unit_dir / TIMER).exists()


def _daemon(um: UserManager, config: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "sqlsentinel", "daemon", str(config), "--user"]
    return subprocess.Popen(argv, env=um.env, stderr=subprocess.PIPE, text=True)


def test_the_daemon_refuses_a_clash_at_start_and_at_a_reload(
    both: tuple[UserManager, Path], workdir: Path
) -> None:
    um, runtime = both
    by_hand = write_config(workdir, ALERT.format("disk"), "by-hand.yaml")
    um.sqlsentinel("install-units", "--user", str(by_hand))
    clashing = write_config(workdir, ALERT.format("disk"), "daemon.yaml")
    started = _daemon(um, clashing)
    _, stderr = started.communicate(timeout=60)
    assert started.returncode == ExitCode.SYSTEMD, stderr
    assert str(by_hand) in stderr and str(clashing) in stderr
    assert _active(um, TIMER) == ("active", str(um.unit_dir / TIMER))

    config = write_config(workdir, ALERT.format("fine"), "daemon.yaml")
    daemon = _daemon(um, config)
    try:
        fine = f"{unit_base('fine')}.timer"
        deadline = time.monotonic() + 60
        while not (runtime / fine).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (runtime / fine).exists()
        config.write_text(config.read_text() + textwrap.indent(ALERT.format("disk"), "  "))
        daemon.send_signal(signal.SIGHUP)
        time.sleep(3)
    finally:
        daemon.terminate()
        _, stderr = daemon.communicate(timeout=60)
    assert "clashes" in stderr and str(by_hand) in stderr, stderr
    assert not (runtime / TIMER).exists()
    assert _active(um, TIMER) == ("active", str(um.unit_dir / TIMER))
