"""README's setup commands, read from README.md, on a clean Debian 12 that has only python3.

The root is the booted-Debian tests' cached debootstrap (booted_debian.py) under a
throwaway overlay, with `python3-venv` installed from Debian's archive: `python3` and
`python3-venv` are all the Python it has, and there is no `python`. The checkout is copied
in and README's first command runs there exactly as README.md writes it; pip reaches PyPI.
Downloaded indexes, .debs and wheels are kept under the rootfs cache, so a second run
fetches only what changed.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml
from booted_debian import CACHE, overlay

REPO = Path(__file__).resolve().parents[2]
NO_TRANSLATIONS = "-o Acquire::Languages=none"
MACHINE = f"sqs-readme-{os.getpid()}"
INSTALL_VENV = "apt-get install -y -qq --no-install-recommends python3-venv"


def setup_commands() -> list[str]:
    """The ```sh blocks of README's "Setup: two commands" section, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Setup: two commands\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def _copy_checkout(dest: Path) -> None:
    """What a clone of this checkout holds (its tracked and new files), without .venv."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    names = b"\0".join(n for n in listed if n and (REPO / n.decode()).is_file())
    dest.mkdir(parents=True)
    pack = subprocess.Popen(
        ["tar", "-C", str(REPO), "--null", "-T", "-", "-cf", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    unpack = subprocess.Popen(["tar", "-C", str(dest), "-xf", "-"], stdin=pack.stdout)
    assert pack.stdin is not None and pack.stdout is not None
    pack.stdin.write(names)
    pack.stdin.close()
    pack.stdout.close()
    assert pack.wait() == 0 and unpack.wait() == 0


def _in_root(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    """`sh -c script` in /src of the root, as root, with a login's plain environment."""
    kept = {
        CACHE / "readme-apt": "/var/cache/apt/archives",
        CACHE / "readme-apt-lists": "/var/lib/apt/lists",  # `update` fetches only what changed
        CACHE / "readme-pip": "/root/.cache/pip",
    }
    for folder in kept:
        folder.mkdir(parents=True, exist_ok=True)
    argv = [
        "systemd-nspawn", "--quiet", "-D", str(root), "--register=no", "--keep-unit", "--pipe",
        f"--machine={MACHINE}",
        "--chdir=/src", "-E", "HOME=/root", "-E", "LANG=C.UTF-8",
        "-E", "DEBIAN_FRONTEND=noninteractive",
        *(f"--bind={host}:{inside}" for host, inside in kept.items()),
        "--", "/bin/sh", "-c", script,
    ]  # fmt: skip
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=900)
    finally:
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{MACHINE}", ignore_errors=True)


def _trust_this_machines_cas(root: Path) -> None:
    """The host's own CAs (a proxy that re-signs TLS), as its admin would add them: Debian's
    ca-certificates takes /usr/local/share/ca-certificates in when it is installed."""
    local = Path("/usr/local/share/ca-certificates")
    if local.is_dir():
        shutil.copytree(local, root / local.relative_to("/"), dirs_exist_ok=True)


def test_readme_has_two_setup_commands_and_ci_runs_the_second() -> None:
    example, tests = setup_commands()
    assert (REPO / ".ci" / "run").read_text().splitlines()[-1] == tests
    for command in (example, tests):  # no bare `python`, nothing into the system's Python
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install "), command
        assert not re.search(r"(^|&& )(python|pip|python3 -m pip) ", command), command


def test_the_first_command_runs_as_written_on_a_clean_debian_12(
    systemd_rootfs: Path, tmp_path: Path
) -> None:
    example, _ = setup_commands()
    alerts = [
        a["name"] for a in yaml.safe_load((REPO / "examples" / "alerts.yaml").read_text())["alerts"]
    ]
    CACHE.mkdir(parents=True, exist_ok=True)
    with (
        open(CACHE / "readme.lock", "w") as lock,  # the kept .debs: one run at a time
        overlay(systemd_rootfs, tmp_path / "layer", proc=False) as root,
    ):
        fcntl.flock(lock, fcntl.LOCK_EX)
        _copy_checkout(root / "src")
        _trust_this_machines_cas(root)
        began = time.monotonic()
        apt = _in_root(root, f"apt-get -qq {NO_TRANSLATIONS} update && {INSTALL_VENV}")
        assert apt.returncode == 0, apt.stdout + apt.stderr
        apt_s = time.monotonic() - began
        bare = _in_root(root, "command -v python3 && ! command -v python && ! command -v pip")
        assert bare.returncode == 0, bare.stdout  # python3 only: what the README assumes
        began = time.monotonic()
        done = _in_root(root, example)
        took = time.monotonic() - began
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
        lines = done.stdout.splitlines()  # pip's and the demo's lines, then the run's table
        table = max(i for i, line in enumerate(lines) if line.split()[:2] == ["ALERT", "OUTCOME"])
        assert [line.split()[0] for line in lines[table + 1 :]] == alerts, done.stdout
        assert done.stderr.count("sqlsentinel: run finished ") == len(alerts), done.stderr
        assert (root / "src" / ".venv" / "bin" / "sqlsentinel").exists()
    print(f"apt-get python3-venv: {apt_s:.1f} s; README's first command: {took:.1f} s")
