"""The local backend's checks as real child processes: no overlap, a bound, the planned
instant in the environment, and a bounded wait on stop."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqlsentinel.daemon.runner import CheckRunner
from sqlsentinel.daemon.scheduler import Tick

T = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def runner(tmp_path: Path, seconds: float, max_running: int = 4) -> CheckRunner:
    """Children that record TRIGGER_TIMER_REALTIME_USEC in tmp/NAME, then sleep."""
    script = (
        "import os, sys, time; "
        f"open(os.path.join({str(tmp_path)!r}, sys.argv[1]), 'a')"
        ".write(os.environ['TRIGGER_TIMER_REALTIME_USEC'] + '\\n'); "
        f"time.sleep({seconds})"
    )
    return CheckRunner(lambda name: [sys.executable, "-c", script, name], max_running, {})


def wait_idle(r: CheckRunner, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while r.busy() and time.monotonic() < deadline:
        time.sleep(0.02)
        r.reap()
    assert r.busy() == []


def test_a_tick_of_a_busy_alert_is_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    r = runner(tmp_path, 1.0)
    assert r.submit(Tick("a", T)) == "started"
    assert r.submit(Tick("a", T.replace(minute=1))) == "skipped"
    assert "tick skipped alert='a' scheduled=2026-01-01T12:01:00+00:00" in caplog.text
    wait_idle(r)
    assert (tmp_path / "a").read_text() == f"{int(T.timestamp() * 1e6)}\n"  # ran once
    assert r.submit(Tick("a", T.replace(minute=2))) == "started"  # free again
    wait_idle(r)


def test_at_most_max_running_at_once_the_rest_wait_in_order(tmp_path: Path) -> None:
    r = runner(tmp_path, 0.5, max_running=2)
    assert [r.submit(Tick(n, T)) for n in "abcd"] == ["started", "started", "queued", "queued"]
    assert r.submit(Tick("c", T)) == "skipped"  # waiting counts as busy
    assert r.busy() == ["a", "b"]
    started = time.monotonic()
    wait_idle(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "d"]
    assert time.monotonic() - started >= 0.9  # two waves of 0.5 s


def test_stop_waits_up_to_the_grace_then_ends_the_checks(tmp_path: Path) -> None:
    quick = runner(tmp_path, 0.3)
    quick.submit(Tick("q", T))
    quick.stop(5.0)  # finishes well within the grace
    assert quick.busy() == []
    slow = runner(tmp_path, 60)
    slow.submit(Tick("s", T))
    started = time.monotonic()
    slow.stop(0.5)
    assert slow.busy() == [] and time.monotonic() - started < 20  # not the check's 60 s
