"""Shared fixtures: a real PostgreSQL server, fresh databases, and the CLI in a subprocess."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from notify.servers import HookServer
from support import Cli, free_port

PG_BIN = Path(os.environ.get("SQLSENTINEL_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "sqlsentinel-test"  # the unprivileged OS user PostgreSQL runs as when we are root
SERVICE_USER = "sqlsentinel-svc"  # plays the service user that owns a packaged state folder


def _ensure_user(name: str) -> None:
    """Create system user `name` (no home, no shell) unless it exists."""
    if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )


def _as_pg_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    _ensure_user(PG_USER)
    return ["runuser", "-u", PG_USER, "--", *cmd]


@pytest.fixture(scope="session")
def service_user() -> pwd.struct_passwd:
    """A real unprivileged user, for tests of what root does in a folder it owns."""
    if os.geteuid() != 0:
        pytest.fail("this test acts as root for another user; CI runs the suite as root")
    _ensure_user(SERVICE_USER)
    return pwd.getpwnam(SERVICE_USER)


MACHINE_FOLDERS = (Path("/var/lib/sqlsentinel"), Path("/etc/sqlsentinel"))
MACHINE_UNIT_FOLDERS = (Path("/run/systemd/system"), Path("/etc/systemd/system"))


def _machine_entries() -> set[Path]:
    """What the machine's own state, config and unit folders hold of SQL Sentinel's."""
    found = {p for f in MACHINE_FOLDERS if f.exists() for p in (f, *f.rglob("*"))}
    return found | {p for f in MACHINE_UNIT_FOLDERS for p in f.glob("sqlsentinel*")}


def _other_sessions(gained: set[Path], ours: bytes) -> set[Path]:
    """The gained entries that other processes on a shared machine wrote: files naming a
    temporary folder (`/tmp/…`) but not this session's, and folders holding only such files."""

    def foreign(path: Path) -> bool:
        try:
            data = path.read_bytes()[:1_000_000]
        except OSError:
            return False
        return b"/tmp/" in data and ours not in data

    files = {p for p in gained if p.is_file()}
    theirs = {p for p in files if foreign(p)}
    for folder in gained - files:
        below = {f for f in files if folder in f.parents}
        if below and below <= theirs:
            theirs.add(folder)
    return theirs


@pytest.fixture(scope="session", autouse=True)
def machine_folders_untouched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test keeps its state under its own temp folder: the run fails when the
    machine's /var/lib/sqlsentinel, /etc/sqlsentinel or sqlsentinel-* units gained anything.
    In-process code that falls back to the default state folder gets a temporary one."""
    before = _machine_entries()
    saved = os.environ.get("STATE_DIRECTORY")
    os.environ["STATE_DIRECTORY"] = str(tmp_path_factory.mktemp("default-state"))
    yield
    if saved is None:
        del os.environ["STATE_DIRECTORY"]
    else:
        os.environ["STATE_DIRECTORY"] = saved
    gained = _machine_entries() - before
    ours = f"{tmp_path_factory.getbasetemp()}/".encode()
    wrote = sorted(map(str, gained - _other_sessions(gained, ours)))
    if wrote:
        shown = "\n  ".join(wrote[:20])
        pytest.fail(f"tests wrote {len(wrote)} entries into the machine's folders:\n  {shown}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the real servers it needs, so `-m 'not postgres'` selects honestly."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        params = set(map(str, callspec.params.values())) if callspec else set()
        if "pg_server" in names or "postgresql" in params:
            item.add_marker(pytest.mark.postgres)
        if "user_manager" in names:
            item.add_marker(pytest.mark.systemd)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A throwaway PostgreSQL server; yields `postgresql+psycopg://postgres@127.0.0.1:PORT`."""
    missing = [b for b in ("initdb", "pg_ctl") if not (PG_BIN / b).exists()]
    if missing:
        raise RuntimeError(
            f"PostgreSQL binaries {missing} not found in {PG_BIN}; install PostgreSQL 15 "
            "or set SQLSENTINEL_PG_BIN to its bin directory"
        )
    base = Path(tempfile.mkdtemp(prefix="sqlsentinel-pg-"))
    data, log = base / "data", base / "server.log"
    if os.geteuid() == 0:
        _as_pg_user(["true"])  # create the user first
        shutil.chown(base, PG_USER)
    base.chmod(0o700)
    port = free_port()
    ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data)]

    def run(cmd: list[str]) -> None:
        done = subprocess.run(_as_pg_user(cmd), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed:\n{done.stdout}{done.stderr}{server_log}")

    try:
        run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E",
             "UTF8", "--no-sync"])  # fmt: skip
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        run([*ctl, "-w", "-t", "60", "-l", str(log), "-o", opts, "start"])
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_pg_user([*ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"{pg_server}/{name}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database file in the test's temp dir."""
    path = tmp_path / "test.db"
    path.touch()
    return f"sqlite:///{path}"


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """`write_config(text, name="sentinel.yaml")` -> the path of the written config."""

    def write(text: str, name: str = "sentinel.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def hook() -> Iterator[HookServer]:
    """A real HTTP receiver (tests/notify/servers.py) for webhooks, Slack and heartbeats."""
    server = HookServer()
    yield server
    server.close()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """`cli(*args, timeout=120, env=None)` -> CliResult(rc, stdout, stderr)."""
    return Cli(tmp_path)
