"""Fixtures for the package tests: the packages (built once) and the cached Debian roots."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from booted_debian import SYSTEMD_PACKAGES, cached_rootfs, cannot_boot
from package_build import Packages, build


@pytest.fixture(scope="session")
def packages() -> Iterator[Packages]:
    """The .deb and .rpm from packaging/build.sh, plus a .deb of a higher version."""
    with tempfile.TemporaryDirectory(prefix="sqs-pkg-") as scratch:
        yield build(Path(scratch) / "dist", Path(scratch) / "work")


@pytest.fixture(scope="session")
def systemd_rootfs() -> Path:
    """A Debian 12 root with systemd and python3.11 (debootstrapped once, then cached)."""
    reason = cannot_boot()
    if reason:
        pytest.skip(f"this machine cannot boot a Debian container: {reason}")
    return cached_rootfs("bookworm-systemd", SYSTEMD_PACKAGES)
