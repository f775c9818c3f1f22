"""Figures for the packages and the image: sizes, build time, install and boot timings.

Run as root: `python bench/bench_packaging.py`. It uses the package tests' harness
(tests/packaging: cached debootstrap roots, systemd-nspawn, podman) and prints
1. the build time of packaging/build.sh (warm pip cache) and the .deb/.rpm sizes,
2. in a booted Debian 12: boot time, `apt-get install ./….deb` time,
3. the time from a boot to the first alert run: the package is installed with a
   `* * * * *` alert, the container powers off, misses a tick, and boots again; the
   timer's Persistent= catch-up runs it (the daemon's units, or units installed by hand
   when the package has no daemon), and that run's lateness,
4. the image's build time and size (podman, on the debootstrapped base).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "packaging"))

from booted_debian import SYSTEMD_PACKAGES, BootedDebian, cached_rootfs, overlay
from package_build import build
from podman_image import build_image, podman

CONFIG = "/etc/sqlsentinel/alerts.yaml"
EVERY_MINUTE = """database:
  url: sqlite:////usr/share/sqlsentinel/example.db
alerts:
  - name: every_minute
    query: SELECT 'OK' AS status
    schedule: "* * * * *"
"""


def _runs(machine: BootedDebian) -> list[dict[str, object]]:
    out = machine.run("sqlsentinel", "history", CONFIG, "--json", check=False).stdout
    rows: list[dict[str, object]] = json.loads(out) if out.strip() else []
    return rows


def _first_run_after_boot(root: Path, dist: Path, seen: set[object]) -> tuple[float, ...]:
    """(boot seconds, seconds from boot start to the first new run finished, its lateness ms)."""
    machine = BootedDebian(root, {dist: "/dist"}, volatile=False)
    try:
        while True:
            new = [row for row in _runs(machine) if row["id"] not in seen]
            if new:
                seconds = time.monotonic() - machine.started
                return machine.boot_seconds, seconds, float(str(new[0]["lateness_ms"]))
            time.sleep(0.2)
    finally:
        machine.stop()


def _install_and_arm(root: Path, dist: Path, deb: str) -> tuple[float, float, set[object]]:
    """Install the .deb with a `* * * * *` alert, let it run once; (boot s, install s, run ids)."""
    machine = BootedDebian(root, {dist: "/dist"}, volatile=False)
    try:
        started = time.monotonic()
        machine.run("apt-get", "install", "-y", f"/dist/{deb}")
        install = time.monotonic() - started
        machine.write(CONFIG, EVERY_MINUTE)
        if not machine.exists("/lib/systemd/system/sqlsentinel.service"):
            machine.run("sqlsentinel", "install-units", "--system", CONFIG,
                        "--exec", "/usr/bin/sqlsentinel")  # fmt: skip
        while not (rows := _runs(machine)):
            time.sleep(1)
        return machine.boot_seconds, install, {row["id"] for row in rows}
    finally:
        machine.stop()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sqs-bench-") as scratch:
        base = Path(scratch)
        packages = build(base / "dist", base / "work")
        print(f"build (venv + .deb + .rpm, warm pip cache): {packages.build_seconds:.1f} s")
        for path in (packages.deb, packages.rpm):
            print(f"{path.name}: {path.stat().st_size / 2**20:.1f} MiB")
        rootfs = cached_rootfs("bookworm-systemd", SYSTEMD_PACKAGES)
        with overlay(rootfs, base / "root", proc=False) as root:
            boot, install, seen = _install_and_arm(root, packages.deb.parent, packages.deb.name)
            print(f"boot to running: {boot:.2f} s; apt-get install ./{packages.deb.name}: "
                  f"{install:.2f} s")  # fmt: skip
            time.sleep(61)  # miss a tick while powered off
            boot, first, lateness = _first_run_after_boot(root, packages.deb.parent, seen)
            print(f"after a missed tick: boot {boot:.2f} s, boot start to first run finished "
                  f"{first:.2f} s (lateness {lateness:.0f} ms)")  # fmt: skip
    started = time.monotonic()
    image = build_image()
    print(f"image build (cached layers reused when present): {time.monotonic() - started:.1f} s")
    size = json.loads(podman("image", "inspect", image).stdout)[0]["Size"]
    print(f"image size: {size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
