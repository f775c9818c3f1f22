"""`sqlsentinel reload --pid`: it signals only the daemon that wrote the acknowledgement, and
the acknowledgement lives only in a folder that is the daemon's user's alone."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from support import Cli

CONFIG = """\
database:
  url: sqlite:///target.db
alerts:
  - name: a
    query: SELECT 'OK' AS status
    schedule: "0 0 1 1 *"
"""


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_reload_never_signals_a_process_that_reused_a_killed_daemons_pid(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "alerts.yaml").write_text(CONFIG)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    cli.env["RUNTIME_DIRECTORY"] = str(run)
    daemon = subprocess.Popen(
        [*cli.argv, "daemon", "alerts.yaml", "--backend", "local", "--no-reload"],
        cwd=tmp_path, env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_for(run / f"reload-{daemon.pid}")
    daemon.kill()  # kill -9: its acknowledgement stays behind
    daemon.wait()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        # what a reused pid amounts to: the stale file now names the new process
        os.rename(run / f"reload-{daemon.pid}", run / f"reload-{sleeper.pid}")
        done = cli("reload", "--pid", str(sleeper.pid), "--timeout", "2")
        assert done.rc == 2, done
        assert f"process {sleeper.pid} is not the daemon that wrote" in done.stderr
        time.sleep(0.2)
        assert sleeper.poll() is None  # not signalled
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_acknowledgement_folder_is_never_one_another_user_created(
    service_user: pwd.struct_passwd,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    from sqlsentinel.daemon import reload_ack
    from sqlsentinel.daemon.reload_ack import NotPrivate, ReloadAck, ack_path, request_reload

    shared = Path(tempfile.mkdtemp(prefix="sqlsentinel-shared-"))  # reachable by the user
    shared.chmod(0o1777)  # like /tmp
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    monkeypatch.setattr(os, "geteuid", lambda: 4242)  # a user without root's /run/sqlsentinel
    planted = shared / "sqlsentinel-4242"
    subprocess.run(["runuser", "-u", service_user.pw_name, "--", "mkdir", "-m", "0777",
                    str(planted)], check=True)  # fmt: skip
    environ = {"XDG_RUNTIME_DIR": str(shared), "HOME": str(tmp_path / "home")}
    with pytest.raises(NotPrivate, match="not private to uid 4242"):
        ReloadAck(ack_path(os.getpid(), environ))
    assert list(planted.iterdir()) == []
    (planted / f"reload-{os.getpid()}").write_text("0 0 0 applied\n")  # a forged answer
    with pytest.raises(NotPrivate):
        request_reload(os.getpid(), environ, 1)
    # without XDG_RUNTIME_DIR: the user's state folder, never a shared one such as /tmp
    folder = reload_ack.runtime_dir({"HOME": str(tmp_path / "home")})
    assert folder == tmp_path / "home/.local/state/sqlsentinel/run"
    assert reload_ack.runtime_dir({"HOME": "/x", "TMPDIR": str(shared)}).is_relative_to("/x")
