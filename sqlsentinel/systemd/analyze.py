"""A thin wrapper around `systemd-analyze calendar`: parse checks and next elapses.

Many expressions go to one process. The zone is passed as `TZ=:Area/City` and the
expressions carry no suffix: systemd then computes elapses in-process, about twenty
times faster than with a suffix, which makes it fork once per elapse.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlsentinel.schedule.translate import Translation

_PROGRAM = "systemd-analyze"
_FAILED = re.compile(r"^Failed to parse calendar specification '(.*)': (.*)$")
_ELAPSE = re.compile(r"^\s*(?:Next elapse|Iter\. #\d+|\(in UTC\)):\s*(.*)$")


def available() -> bool:
    """Whether `systemd-analyze` is on PATH."""
    return shutil.which(_PROGRAM) is not None


def _run(specs: Sequence[str], *, zone: str, base: datetime, iterations: int) -> tuple[str, str]:
    env = {**os.environ, "TZ": f":{zone}", "LC_ALL": "C"}
    stamp = base.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    result = subprocess.run(
        [_PROGRAM, "calendar", f"--base-time={stamp}", f"--iterations={iterations}", *specs],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout, result.stderr


def check_lines(lines: Sequence[str]) -> list[tuple[str, str]]:
    """The lines systemd cannot parse, each with systemd's error text."""
    if not lines:
        return []
    _, stderr = _run(lines, zone="UTC", base=datetime.now(UTC), iterations=1)
    return [
        (match.group(1), match.group(2))
        for match in map(_FAILED.match, stderr.splitlines())
        if match
    ]


def next_elapses(
    specs: Sequence[str], *, base: datetime, iterations: int, zone: str = "UTC"
) -> list[list[datetime]]:
    """For each spec, its first `iterations` elapses after `base` (UTC), computed in `zone`.

    Raises `RuntimeError` if systemd rejects a spec.
    """
    if not specs:
        return []
    stdout, stderr = _run(specs, zone=zone, base=base, iterations=iterations)
    if stderr.strip():
        raise RuntimeError(f"systemd-analyze failed: {stderr.strip()}")
    blocks: list[list[datetime]] = []
    for line in stdout.splitlines():
        if line.lstrip().startswith("Normalized form:"):
            blocks.append([])
            continue
        match = _ELAPSE.match(line)
        if not match or match.group(1) == "never":
            continue
        moment = _parse_utc(match.group(1))
        if line.lstrip().startswith("(in UTC)"):
            blocks[-1][-1] = moment
        else:
            blocks[-1].append(moment)
    if len(blocks) != len(specs):
        raise RuntimeError(f"expected {len(specs)} results from systemd-analyze, got {len(blocks)}")
    return blocks


def _parse_utc(text: str) -> datetime:
    """`Fri 2026-01-02 00:00:00 UTC` -> aware UTC; a local time is a placeholder (`(in UTC)`)."""
    _weekday, day, clock, *_zone = text.split()
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)


def verify_with_systemd(translations: Sequence[Translation]) -> list[str]:
    """Problems systemd-analyze reports for emitted lines ([] if all parse or it is absent)."""
    if not available():
        return []
    owner = {line: t.cron for t in translations for line in t.on_calendar}
    return [
        f"systemd-analyze cannot parse `OnCalendar={line}` (from `{owner.get(line, line)}`): "
        f"{error}"
        for line, error in check_lines(list(owner))
    ]
