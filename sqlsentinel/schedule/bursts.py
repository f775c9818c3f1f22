"""Many alerts starting in the same second: find the worst such instant of the coming day.

Every tick is a process that costs about `TICK_CPU_SECONDS` of CPU, and alerts whose
timers elapse in the same second all start at once. An instant is a burst when more than
`BURST_MIN_ALERTS` alerts start in it and together they need more CPU than the host has
in a minute: the tick then cannot be done within the minute (issue 10 measured runs lost
and start timeouts). `jitter` spreads such alerts over the seconds after the instant.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import takewhile

from sqlsentinel.schedule.jitter import max_jitter
from sqlsentinel.schedule.timer import Timer

# CPU seconds one tick costs the host in a burst, by state database: the run itself, the
# systemd manager starting it and, for PostgreSQL, the server backend of its connection.
# bench/bench_burst.py's CPU-s per minute / N, 500 alerts on `* * * * *` without jitter, on
# the reference machine (2 cores): 58.4 / 500 with SQLite state, 118.4 / 500 with
# PostgreSQL. One home: update it from the benchmark when the cost of a tick changes.
TICK_CPU_SECONDS = {"sqlite": 0.12, "postgresql": 0.24}
# Fewer alerts than this at one instant never make a burst: issue 10's burst run had 50
# alerts start together on 2 cores and record every run within 16 s.
BURST_MIN_ALERTS = 50
BURST_HORIZON = timedelta(days=1)
_USEC = 1_000_000


@dataclass(frozen=True)
class Start:
    """One alert's timer: its schedule, zone and fixed offset (jitter) on this host."""

    alert: str
    cron: str
    zone: str
    offset: timedelta = timedelta(0)


@dataclass(frozen=True)
class Burst:
    """The instant of the coming day with the most alerts starting, when it is too many."""

    at: datetime  # the second (UTC) in which they start
    alerts: tuple[str, ...]  # in the order given
    cpu_seconds: float  # their estimated CPU
    capacity: float  # the host's CPU seconds per minute
    instants: int  # seconds of the coming day that are bursts, this one included
    jitter: int  # suggested jitter in seconds: the time the host needs to run them all
    limit: int  # the longest jitter their schedules allow, in whole seconds


def tick_cpu_seconds(state_url: str) -> float:
    """The CPU of one tick in a burst with this state database (`TICK_CPU_SECONDS`)."""
    return TICK_CPU_SECONDS["postgresql" if state_url.startswith("postgres") else "sqlite"]


def find_burst(starts: Sequence[Start], now: datetime, cpus: int, tick_cpu: float) -> Burst | None:
    """The worst burst of the day after `now` on a host with `cpus` CPUs, each tick costing
    `tick_cpu` CPU seconds, if any."""
    groups: dict[tuple[str, str, int], list[Start]] = defaultdict(list)
    for s in starts:
        groups[(s.cron, s.zone, _usec(s.offset))].append(s)
    reach: dict[tuple[str, str], int] = {}  # the largest offset per schedule
    for cron, zone, offset in groups:
        reach[(cron, zone)] = max(offset, reach.get((cron, zone), 0))
    elapses = {key: _elapses(*key, now, back) for key, back in reach.items()}
    counts: Counter[int] = Counter()
    for (cron, zone, offset), group in groups.items():
        for t in elapses[(cron, zone)]:
            counts[(t + offset) // _USEC] += len(group)
    first = int(now.timestamp())
    last = first + int(BURST_HORIZON.total_seconds())
    limit = cpus * 60.0 / tick_cpu  # more alerts than this in one second: too many
    over = sorted(
        s for s, n in counts.items() if first <= s < last and n > max(BURST_MIN_ALERTS, limit)
    )
    if not over:
        return None
    second = max(over, key=lambda s: (counts[s], -s))
    order = {s.alert: i for i, s in enumerate(starts)}
    members = sorted(
        (
            m
            for (cron, zone, offset), group in groups.items()
            if _starts_in(elapses[(cron, zone)], second, offset)
            for m in group
        ),
        key=lambda m: order[m.alert],
    )
    cpu = len(members) * tick_cpu
    longest = min(max_jitter(c, z, now) for c, z in {(m.cron, m.zone) for m in members})
    return Burst(
        at=datetime.fromtimestamp(second, UTC),
        alerts=tuple(m.alert for m in members),
        cpu_seconds=cpu,
        capacity=cpus * 60.0,
        instants=len(over),
        jitter=math.ceil(cpu / cpus),
        limit=int(longest.total_seconds()),
    )


def _usec(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * _USEC + delta.microseconds


def _elapses(cron: str, zone: str, now: datetime, back: int) -> list[int]:
    """Calendar elapses (µs since the epoch) from `back` µs before `now` to the horizon."""
    end = now + BURST_HORIZON
    runs = Timer.in_zone(cron, zone, now=now).iter_after(now - timedelta(microseconds=back + 1))
    return [int(t.timestamp()) * _USEC for t in takewhile(lambda t: t < end, runs)]


def _starts_in(elapses: list[int], second: int, offset: int) -> bool:
    """Whether an elapse plus `offset` falls in `second`."""
    i = bisect_left(elapses, second * _USEC - offset)
    return i < len(elapses) and (elapses[i] + offset) // _USEC == second


def describe(burst: Burst, cpus: int) -> str:
    """The warning: the instant, how many alerts, their CPU against the host's, the jitter."""
    more = (
        f", and {burst.instants - 1} more such seconds in the next 24 h"
        if burst.instants > 1
        else ""
    )
    text = (
        f"{len(burst.alerts)} alerts ({burst.alerts[0]!r} and {len(burst.alerts) - 1} more) "
        f"start in the same second, {burst.at:%Y-%m-%d %H:%M:%S} UTC{more}: about "
        f"{burst.cpu_seconds:.0f} CPU-s at once, more than this host's {burst.capacity:.0f} "
        f"CPU-s a minute ({cpus} CPU{'' if cpus == 1 else 's'}); spread them with "
    )
    if burst.jitter <= burst.limit:
        return text + f"`jitter: {burst.jitter}s` (on the alerts or under defaults:)"
    return text + (
        f"`jitter: {burst.limit}s`, the most their schedule allows; that is still less than "
        f"the {burst.jitter}s this host needs to run them, so also move some to other minutes"
    )
