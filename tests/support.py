"""Test helpers shared across folders (import as `from support import ...`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlsentinel.applied.accept import build_timetable, schedule_entry
from sqlsentinel.applied.timetable import Launch, Scheduled, Timetable
from sqlsentinel.config.loader import LoadedConfig
from sqlsentinel.core.spec import AlertSpec, TargetSpec
from sqlsentinel.schedule.translate import translate
from sqlsentinel.systemd.units import AlertUnits, UnitOptions, render_alert

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class CliResult:
    """A finished `python -m sqlsentinel` process."""

    rc: int
    stdout: str
    stderr: str


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment for CLI subprocesses: private cache and state dirs, this checkout first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLSENTINEL_")}
    for unit_only in ("INVOCATION_ID", "JOURNAL_STREAM"):  # a shell's run, even if pytest
        env.pop(unit_only, None)  # runs under a unit (a CI runner's service)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["SQLSENTINEL_CACHE_DIR"] = str(tmp_path / "cache")
    env["STATE_DIRECTORY"] = str(tmp_path / "state")  # never the real default location
    return env


class Cli:
    """Runs `python -m sqlsentinel ARGS` in a test's temp dir; `argv`/`env`/`cwd` for Popen."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.env = cli_env(tmp_path)
        self.argv = [sys.executable, "-m", "sqlsentinel"]

    def __call__(
        self, *args: str | Path, timeout: float = 120, env: dict[str, str] | None = None
    ) -> CliResult:
        done = subprocess.run(
            [*self.argv, *map(str, args)],
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)


def make_target(
    channel: str, *, timeout: float | None = None, max_attempts: int = 4, **options: object
) -> TargetSpec:
    """A notification target as the config would compile it (lists, not tuples)."""
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
    return TargetSpec(channel, values, timeout, max_attempts)


LAUNCH = Launch(False, (sys.executable, "-m", "sqlsentinel"))


def timetable_of(loaded: LoadedConfig, applied_at: datetime | None = None) -> Timetable:
    """The timetable the apply step writes for `loaded` (user manager, the file itself)."""
    return build_timetable(loaded, LAUNCH, None, None, applied_at)


def entry_of(
    alert: AlertSpec, offset: float = 0.0, launch: Launch = LAUNCH, applied: str | None = None
) -> Scheduled:
    """The timetable entry of an alert built by hand (translated as the config would)."""
    translation = translate(alert.schedule, alert.timezone, now=datetime(2026, 1, 1, tzinfo=UTC))
    command = launch.command("/etc/sqlsentinel/alerts.yaml", applied, alert.name)
    return schedule_entry(alert, translation, offset, command)


def render_units(alert: AlertSpec, lines: Sequence[str], options: UnitOptions) -> AlertUnits:
    """`render_alert` of an alert built by hand, with its timetable entry as the apply step
    makes it for `options` (its offset on this host, its command) and the given lines."""
    from sqlsentinel.applied.host import timer_offset

    offset = timer_offset(alert.name, alert.jitter, options.system).total_seconds()
    entry = entry_of(alert, offset, options.launch, options.applied)
    return render_alert(alert, replace(entry, on_calendar=tuple(lines)), options)


def check_exposition(body: bytes) -> list[str]:
    """`promtool check metrics` (Debian's prometheus) accepts `body` with no lint problem, and
    no series appears twice (which promtool does not check); returns the sample lines."""
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")
    samples = [ln for ln in body.decode().split("\n") if ln and not ln.startswith("#")]
    series = [ln.rpartition(" ")[0] for ln in samples]
    assert len(series) == len(set(series)), "a series appears twice"
    return samples
