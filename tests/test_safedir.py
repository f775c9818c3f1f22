"""Root in a state folder that another user owns (a packaged host: /var/lib/sqlsentinel is the
service user's): nothing that user plants makes root write, chown or trust anything outside.

Every test runs as root against a real unprivileged user, who plants links with `ln -s`
in their own folder, as an attacker would.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import Cli, CliResult

from sqlsentinel.applied.store import AppliedStore
from sqlsentinel.state.db import StateDB

CONFIG = """\
database:
  url: sqlite:///{base}/target.db
alerts:
  - name: flag
    query: SELECT status FROM flag
    schedule: "*/5 * * * *"
"""


@dataclass
class Host:
    """A packaged host in miniature: root's config, the service user's state folder, and a
    folder of root's that nothing may touch."""

    base: Path
    user: pwd.struct_passwd
    cli: Cli

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def victim(self) -> Path:
        return self.base / "victim"

    @property
    def config(self) -> Path:
        return self.base / "alerts.yaml"

    def as_user(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        """Run `cmd` as the service user."""
        return subprocess.run(
            ["runuser", "-u", self.user.pw_name, "--", *cmd], capture_output=True, text=True
        )

    def plant(self, name: str, target: Path) -> None:
        """The service user links `state/name` to `target`."""
        done = self.as_user("ln", "-s", str(target), str(self.state / name))
        assert done.returncode == 0, done.stderr

    def snapshot(self) -> dict[str, tuple[int, int, int, bytes]]:
        """Owner, group, mode and bytes of everything in root's folder."""
        out = {}
        for path in [*sorted(self.victim.rglob("*")), self.victim]:
            st = path.lstat()
            data = path.read_bytes() if path.is_file() else b""
            out[str(path)] = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), data)
        return out


@pytest.fixture
def host(service_user: pwd.struct_passwd) -> Iterator[Host]:
    base = Path(tempfile.mkdtemp(prefix="sqlsentinel-root-"))
    base.chmod(0o711)  # the service user may reach its folder, not list ours
    try:
        with sqlite3.connect(base / "target.db") as db:
            db.execute("CREATE TABLE flag (status TEXT)")
            db.execute("INSERT INTO flag VALUES ('ALERT')")
        (base / "alerts.yaml").write_text(CONFIG.format(base=base))
        (base / "state").mkdir(mode=0o750)
        os.chown(base / "state", service_user.pw_uid, service_user.pw_gid)
        (base / "victim").mkdir(mode=0o700)
        (base / "victim" / "keep").write_text("root's own\n")
        with sqlite3.connect(base / "victim" / "root.db") as db:
            db.execute("CREATE TABLE mine (x)")
        yield Host(base, service_user, Cli(base))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _install(host: Host) -> CliResult:
    units = host.base / "units"
    return host.cli("install-units", host.config, "--system", "--no-reload", "--unit-dir", units)


def test_an_applied_link_is_refused_by_install_units_and_the_daemon(host: Host) -> None:
    host.plant("applied", host.victim)
    before = host.snapshot()
    done = _install(host)
    assert done.rc == 4, done
    assert f"refusing {host.state}/applied: it is a symbolic link" in done.stderr
    assert "sqlsentinel-svc (uid" in done.stderr
    assert not (host.base / "units").exists()  # nothing installed
    daemon = host.cli("daemon", host.config, "--backend", "local", "--no-reload", timeout=60)
    assert daemon.rc == 4, daemon
    assert f"refusing {host.state}/applied: it is a symbolic link" in daemon.stderr
    assert host.snapshot() == before


def test_a_state_db_link_is_refused_by_run_and_status(host: Host) -> None:
    assert _install(host).rc == 0
    host.plant("state.db", host.victim / "root.db")
    host.plant("spool", host.victim)
    before = host.snapshot()
    run = host.cli("run", host.config, "--alert", "flag")
    assert run.rc == 4, run
    assert f"refusing {host.state}/state.db: it is a symbolic link" in run.stderr
    assert "the result of this run is lost" in run.stderr and "outcome=alert" in run.stderr
    status = host.cli("status", host.config)
    assert status.rc == 4, status
    assert f"refusing {host.state}/state.db: it is a symbolic link" in status.stderr
    assert host.snapshot() == before
    with sqlite3.connect(host.victim / "root.db") as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("mine",)]


def test_the_daemon_records_nothing_through_a_state_db_link(host: Host) -> None:
    host.plant("state.db", host.victim / "root.db")
    before = host.snapshot()
    proc = subprocess.Popen(
        [*host.cli.argv, "daemon", str(host.config), "--backend", "local", "--no-reload"],
        env=host.cli.env,
        cwd=host.base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (host.state / "applied").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the heartbeat would be written now
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert f"refusing {host.state}/state.db: it is a symbolic link" in stderr
    assert host.snapshot() == before


def test_roots_applied_copy_is_roots_and_the_service_user_can_only_read_it(host: Host) -> None:
    old = AppliedStore.for_config(str(host.config), host.state).folder
    assert host.as_user("mkdir", "-p", str(old)).returncode == 0  # an earlier release's layout
    assert host.as_user("sh", "-c", f"echo planted > {old}/config.yaml").returncode == 0
    assert _install(host).rc == 0
    gid = host.user.pw_gid
    for folder in (old.parent, old):
        st = folder.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, gid, 0o750)
    for name in ("config.yaml", "applied.json"):
        st = (old / name).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, gid, 0o640)
    assert host.as_user("cat", str(old / "config.yaml")).stdout == host.config.read_text()
    assert host.as_user("sh", "-c", f"echo x > {old}/config.yaml").returncode != 0
    assert host.as_user("mv", str(old / "config.yaml"), str(old / "x")).returncode != 0
    run = host.cli("run", host.config, "--alert", "flag")  # root makes the state DB: theirs
    assert run.rc == 0, run
    st = (host.state / "state.db").stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (host.user.pw_uid, 0o600)


def test_root_never_falls_back_to_a_copy_the_service_user_wrote(host: Host) -> None:
    store = AppliedStore.for_config(str(host.config), host.state)
    assert _install(host).rc == 0
    planted = host.base / "planted"
    planted.mkdir()
    for name in ("config.yaml", "applied.json"):  # a valid copy, but the user's
        shutil.copy(store.folder / name, planted / name)
    shutil.chown(planted, host.user.pw_uid, host.user.pw_gid)
    for name in ("config.yaml", "applied.json"):
        shutil.chown(planted / name, host.user.pw_uid, host.user.pw_gid)
    shutil.rmtree(store.folder)
    os.rename(planted, store.folder)
    host.config.write_text("alerts: [")  # invalid: the daemon would fall back to the copy
    daemon = host.cli("daemon", host.config, "--backend", "local", "--no-reload", timeout=60)
    assert daemon.rc == 3, daemon
    assert "no config was applied before" in daemon.stderr


def test_a_link_swapped_in_after_the_check_is_caught_before_sqlite_writes(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlsentinel import safedir

    check = safedir.prepare_file

    def swapped(path: Path, **kw: object) -> str | None:
        expected = check(path, **kw)  # type: ignore[arg-type]
        path.unlink()  # the service user wins the race: a link where the file was
        path.symlink_to(host.victim / "root.db")
        return expected

    shutil.copy(host.victim / "root.db", host.state / "state.db")
    os.chown(host.state / "state.db", host.user.pw_uid, host.user.pw_gid)
    monkeypatch.setattr(safedir, "prepare_file", swapped)
    before = host.snapshot()
    with pytest.raises(safedir.UnsafePath, match=r"SQLite reached .*root\.db"):
        StateDB(f"sqlite:///{host.state}/state.db").ensure_schema()
    assert host.snapshot() == before


def test_a_third_users_entry_is_refused(host: Host) -> None:
    from sqlsentinel.safedir import UnsafePath, open_dir

    (host.state / "applied").mkdir()
    os.chown(host.state / "applied", 65534, 65534)  # nobody's, in the service user's folder
    with open_dir(host.state) as folder, pytest.raises(UnsafePath, match="belongs to uid 65534"):
        folder.child("applied")


def test_roots_spec_cache_is_never_in_a_folder_another_user_owns(host: Host) -> None:
    """The user could swap the cache's folder for a link between root's check and its write."""
    cache = host.state / "cache" / "compiled"
    run = host.cli("run", host.config, "--alert", "flag", env={"SQLSENTINEL_CACHE_DIR": str(cache)})
    assert run.rc == 0, run
    assert "ignoring the spec cache" in run.stderr
    assert not (host.state / "cache").exists()
