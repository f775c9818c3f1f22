"""The container image, built and run with podman on a base imported from debootstrap.

No registry is reachable here, so the Dockerfile's BASE is a local image made from a
cached minbase Debian 12 root. podman runs with runc and lowered ulimits (this VM's root
lacks CAP_SYS_RESOURCE; crun rejects its hybrid cgroups) and host networking, from a
containers.conf of its own: nothing system-wide changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from booted_debian import CACHE, cached_rootfs
from package_build import REPO

BASE = "localhost/sqlsentinel-test-base:bookworm"
IMAGE = "localhost/sqlsentinel:test"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
"""


def cannot_run_podman() -> str | None:
    """Why this machine cannot build and run the image, or None when it can."""
    if os.geteuid() != 0:
        return "needs root"
    missing = [t for t in ("podman", "runc", "debootstrap") if not shutil.which(t)]
    return f"{', '.join(missing)} not installed (.ci/run installs them)" if missing else None


def podman(
    *args: str, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run podman with the test's containers.conf."""
    conf = CACHE / "containers.conf"
    if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
        CACHE.mkdir(parents=True, exist_ok=True)
        conf.write_text(CONTAINERS_CONF)
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    done = subprocess.run(
        ["podman", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(f"podman {args} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def base_image() -> str:
    """The minbase Debian 12 root as a local image (imported once), like debian:*-slim."""
    if podman("image", "exists", BASE, check=False).returncode != 0:
        root = cached_rootfs("bookworm-minbase")
        argv = ["tar", "-C", str(root), "--exclude=./var/cache/apt/archives/*.deb", "-c", "."]
        tar = subprocess.Popen(argv, stdout=subprocess.PIPE)
        conf = {**os.environ, "CONTAINERS_CONF": str(CACHE / "containers.conf")}
        subprocess.run(["podman", "import", "--change", 'CMD ["/bin/bash"]', "-", BASE],
                       stdin=tar.stdout, env=conf, check=True, capture_output=True)  # fmt: skip
        tar.wait()
    return BASE


def build_image() -> str:
    """`podman build` of the repository's Dockerfile (docker format keeps HEALTHCHECK)."""
    argv = ["build", "--format", "docker", "--network", "host", "--build-arg",
            f"BASE={base_image()}", "--tag", IMAGE]  # fmt: skip
    if CA_BUNDLE.exists():
        argv += ["--secret", f"id=cacert,src={CA_BUNDLE}"]
    podman(*argv, str(REPO))
    return IMAGE
