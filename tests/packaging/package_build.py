"""Build the packages once per test session with the one documented command."""

from __future__ import annotations

import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
UPGRADE_VERSION = f"{VERSION}+1"  # sorts above VERSION for dpkg and rpm


@dataclass(frozen=True)
class Packages:
    """The built files, and how long the build took."""

    deb: Path
    rpm: Path
    upgrade_deb: Path
    build_seconds: float


def build(out: Path, work: Path) -> Packages:
    """`packaging/build.sh` into `out`, then a rebuild with a higher version (same venv)."""
    script = str(REPO / "packaging" / "build.sh")
    started = time.monotonic()
    _run(script, "--out", str(out), "--work", str(work))
    seconds = time.monotonic() - started
    _run(script, "--out", str(out), "--work", str(work), "--reuse-venv", "--version",
         UPGRADE_VERSION)  # fmt: skip
    return Packages(
        deb=out / f"sqlsentinel_{VERSION}_amd64.deb",
        rpm=out / f"sqlsentinel-{VERSION}-1.x86_64.rpm",
        upgrade_deb=out / f"sqlsentinel_{UPGRADE_VERSION}_amd64.deb",
        build_seconds=seconds,
    )


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{argv} -> {done.returncode}\n{done.stdout}\n{done.stderr[-4000:]}")
