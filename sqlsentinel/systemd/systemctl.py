"""A thin wrapper around `systemctl` (system or `--user`): failures become SystemdError."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from sqlsentinel.errors import SystemdError


class Systemctl:
    """Run `systemctl [--user] …` and raise SystemdError with its stderr when it fails."""

    def __init__(self, user: bool) -> None:
        self.base = ["systemctl", "--user"] if user else ["systemctl"]

    def run(self, *args: str) -> str:
        """Run one systemctl command and return its stdout (timestamps in UTC)."""
        argv = [*self.base, "--no-pager", "--no-ask-password", *args]
        env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        except OSError as exc:
            raise SystemdError(f"cannot run systemctl: {exc.strerror or exc}") from None
        if done.returncode != 0:
            shown = " ".join([*self.base, *args[:4]]) + (" …" if len(args) > 4 else "")
            detail = done.stderr.strip() or f"exit status {done.returncode}"
            raise SystemdError(f"`{shown}` failed: {detail}")
        return done.stdout

    def daemon_reload(self) -> None:
        """Make the manager re-read unit files."""
        self.run("daemon-reload")

    def start(self, units: Sequence[str]) -> None:
        """Start units (a no-op for active ones)."""
        if units:
            self.run("start", "--", *units)

    def stop(self, units: Sequence[str]) -> None:
        """Stop the units that are loaded (unknown ones are skipped)."""
        loaded = [
            u for u, p in self.show(units, ("LoadState",)).items() if p["LoadState"] == "loaded"
        ]
        if loaded:
            self.run("stop", "--", *loaded)

    def show(self, units: Sequence[str], props: Sequence[str]) -> dict[str, dict[str, str]]:
        """`systemctl show` of several units in one call: {unit: {property: value}}."""
        if not units:
            return {}
        args = ["show"]
        for p in ("Id", *props):
            args += ["-p", p]
        out = self.run(*args, "--", *units)
        blocks = [b for b in out.split("\n\n") if b.strip()]
        result: dict[str, dict[str, str]] = {}
        for unit, block in zip(units, blocks, strict=False):
            values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            result[unit] = {p: values.get(p, "") for p in props}
        return result
