"""A booted Debian 12 for the package tests: debootstrap once (cached), boot with nspawn.

The root filesystems are cached under $SQLSENTINEL_TEST_CACHE (default
/var/cache/sqlsentinel-test), outside the checkout, so every test run on the machine (CI's
included) reuses them; the first build takes about a minute. A boot never changes the
cache: `systemd-nspawn --volatile=overlay` puts a throwaway layer on top of it, so each
boot starts from a freshly debootstrapped system.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from itertools import count
from pathlib import Path

CACHE = Path(os.environ.get("SQLSENTINEL_TEST_CACHE", "/var/cache/sqlsentinel-test"))
SUITE = "bookworm"
SYSTEMD_PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3.11")
_machines = count()


def cannot_boot() -> str | None:
    """Why this machine cannot run the booted-Debian tests, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (debootstrap, systemd-nspawn)"
    missing = [t for t in ("debootstrap", "systemd-nspawn", "nsenter") if not shutil.which(t)]
    if missing:
        return f"{', '.join(missing)} not installed (.ci/run installs them)"
    return None


def mirror() -> str:
    """The Debian archive this machine's apt already uses."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        if line.startswith("deb "):
            return line.split()[1]
    return "http://deb.debian.org/debian"


def cached_rootfs(name: str, include: Sequence[str] = ()) -> Path:
    """CACHE/name: a minbase Debian 12 with `include`, debootstrapped on first use."""
    root = CACHE / name
    stamp = root / ".sqlsentinel-rootfs"
    wanted = f"{SUITE} minbase {' '.join(include)}\n"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == wanted:
            return root
        scratch = CACHE / f"{name}.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        argv = ["debootstrap", "--variant=minbase", SUITE, str(scratch), mirror()]
        if include:
            argv.insert(2, f"--include={','.join(include)}")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{done.stdout[-3000:]}{done.stderr}")
        (scratch / stamp.name).write_text(wanted)
        shutil.rmtree(root, ignore_errors=True)
        scratch.rename(root)
    return root


class BootedDebian:
    """systemd as PID 1 in an nspawn container on a throwaway layer over `rootfs`.

    `binds` maps host folders to read-only folders in the container. Commands run in the
    container's namespaces through nsenter (the host has no system bus for machinectl).
    With `volatile=False` the container writes to `rootfs` itself (an `overlay()`, to
    keep what it wrote across a reboot).
    """

    def __init__(self, rootfs: Path, binds: dict[Path, str], volatile: bool = True) -> None:
        self.machine = f"sqs-{os.getpid()}-{next(_machines)}"
        self.log = Path(f"/tmp/{self.machine}.log")
        argv = [
            "systemd-nspawn", "-D", str(rootfs), "--boot", "--register=no", "--keep-unit",
            "--console=pipe", f"--machine={self.machine}",
            *(f"--bind-ro={host}:{inside}" for host, inside in binds.items()),
        ]  # fmt: skip
        if volatile:
            argv.append("--volatile=overlay")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=open(self.log, "w"),  # noqa: SIM115  (closed with the process)
            stderr=subprocess.STDOUT,
        )
        self.leader = self._find_leader()
        self._wait_running(time.monotonic() + 60)
        self.boot_seconds = time.monotonic() - self.started

    def _wait_running(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the container did not finish booting:\n{self.log.read_text()}")

    def _find_leader(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = subprocess.run(
                ["pgrep", "-P", str(self.proc.pid), "-x", "systemd"], capture_output=True, text=True
            ).stdout.split()
            if found:
                return int(found[0])
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the container did not boot:\n{self.log.read_text()[-3000:]}")

    def run(
        self, *argv: str, check: bool = True, timeout: float = 300, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run argv inside the container (as root, with a plain environment)."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "DEBIAN_FRONTEND": "noninteractive"}  # fmt: skip
        enter = ["nsenter", "--target", str(self.leader), "--mount", "--uts", "--ipc", "--net",
                 "--pid", "--root", "--wd=/", "--"]  # fmt: skip
        done = subprocess.run(
            [*enter, *argv], env=env, capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def sh(self, script: str, check: bool = True) -> str:
        """Run a shell script inside the container; its stdout."""
        return self.run("sh", "-ec", script, check=check).stdout

    def write(self, path: str, text: str) -> None:
        """Write a file inside the container (the host cannot see the overlay's top)."""
        self.run("sh", "-c", 'cat > "$1"', "write", path, input=text)

    def exists(self, path: str) -> bool:
        """Whether a path exists inside the container (a dangling link counts)."""
        return self.run("test", "-e", path, "-o", "-L", path, check=False).returncode == 0

    def stop(self) -> None:
        """Power off and wait; kill the container if it does not stop in time."""
        with contextlib.suppress(Exception):
            self.run("systemctl", "poweroff", "--no-block", check=False, timeout=10)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{self.machine}", ignore_errors=True)
        self.log.unlink(missing_ok=True)


@contextlib.contextmanager
def booted(rootfs: Path, binds: dict[Path, str]) -> Iterator[BootedDebian]:
    """A booted container for the duration of the block."""
    machine = BootedDebian(rootfs, binds)
    try:
        yield machine
    finally:
        machine.stop()


@contextlib.contextmanager
def overlay(rootfs: Path, scratch: Path, proc: bool = True) -> Iterator[Path]:
    """A writable copy of `rootfs` (an overlay; the cache stays untouched).

    With `proc`, /proc is mounted in it as `dnf --installroot` and mock do: scriptlets
    that run chrooted into the root (systemd-tmpfiles) need it.
    """
    upper, work, merged = scratch / "upper", scratch / "work", scratch / "merged"
    for folder in (upper, work, merged):
        folder.mkdir(parents=True)
    options = f"lowerdir={rootfs},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    if proc:
        subprocess.run(["mount", "-t", "proc", "proc", str(merged / "proc")], check=True)
    try:
        yield merged
    finally:
        if proc:
            subprocess.run(["umount", "--lazy", str(merged / "proc")], check=False)
        subprocess.run(["umount", "--lazy", str(merged)], check=False)
