"""The local backend when the wall clock is set (an NTP step, a restored VM), under a real
libfaketime: checks go on, within a bounded time, whether the clock went back or forward.

The daemon and its checks see the faked wall clock (a file the test rewrites); their
monotonic clock stays real, as it does when NTP steps the clock."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from support import Cli

LIBFAKETIME = next(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"), Path("libfaketime"))
CONFIG = """\
database:
  url: sqlite:///target.db
alerts:
  - name: tick
    query: SELECT 'OK' AS status
    schedule: "* * * * *"
"""
STARTED = re.compile(r"check started alert='tick' scheduled=(\S+)")


class FakeClock:
    """The wall clock the daemon sees: real time plus an offset kept in a file."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def set(self, when: float) -> None:
        """Make the daemon's clock read `when` now."""
        self.offset = when - time.time()
        self.path.write_text(f"{self.offset:+.3f}\n")

    def at_second(self, when: float, second: int) -> float:
        """`when` moved forward to the next instant at `second` past a minute."""
        return when + (second - when % 60) % 60


def _started(log: Path, after: int) -> list[datetime]:
    found = STARTED.findall(log.read_text(errors="replace"))
    return [datetime.fromisoformat(s) for s in found[after:]]


def _wait_started(log: Path, after: int, within: float) -> tuple[datetime, float]:
    """The next check start after the first `after` ones, and how long it took (real)."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        found = _started(log, after)
        if found:
            return found[0], time.monotonic() - began
        time.sleep(0.1)
    pytest.fail(f"no check started within {within:g}s:\n{log.read_text(errors='replace')}")


@pytest.mark.parametrize("step_s", [-1800, 1800])
def test_checks_go_on_after_the_wall_clock_is_set(cli: Cli, tmp_path: Path, step_s: int) -> None:
    assert LIBFAKETIME.exists(), "install Debian's faketime package (.ci/run does)"
    (tmp_path / "alerts.yaml").write_text(CONFIG)
    sqlite3.connect(tmp_path / "target.db").close()
    clock = FakeClock(tmp_path / "faketime")
    clock.set(clock.at_second(time.time(), 52))  # the first tick comes within seconds
    env = {
        **cli.env,
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(clock.path),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen(
            [*cli.argv, "daemon", "alerts.yaml", "--backend", "local", "--no-reload"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_started(log, 0, 60)
        # set the clock to 5 s before a minute, half an hour away
        target = clock.at_second(clock.now() + step_s, 55)
        clock.set(target)
        first, took = _wait_started(log, 1, 30)
        print(f"step {step_s:+d} s: next check {took:.1f} s after the step")
        assert took < 20  # noticed within the loop's 5 s turn, then the next minute
        if step_s > 0:  # set forward: the missed minute fires at once, then on time again
            first, took = _wait_started(log, 2, 30)
        assert first.timestamp() == target + 5  # the minute after the new time
        assert "the clock was set" in log.read_text()
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
