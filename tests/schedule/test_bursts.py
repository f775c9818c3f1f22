"""Bursts: too many alerts starting in one second for the host, and the jitter that spreads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sqlsentinel.schedule import bursts
from sqlsentinel.schedule.bursts import (
    TICK_CPU_SECONDS,
    Start,
    describe,
    find_burst,
    tick_cpu_seconds,
)

NOW = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)
TICK = 0.35  # CPU-s of a tick in these examples (the product's figures are below)


def _same(count: int, cron: str = "* * * * *", zone: str = "UTC") -> list[Start]:
    return [Start(f"a{i:03d}", cron, zone) for i in range(count)]


def test_500_alerts_every_minute_on_2_cpus_are_a_burst_that_jitter_cannot_fully_spread() -> None:
    burst = find_burst(_same(500), NOW, cpus=2, tick_cpu=TICK)
    assert burst is not None
    assert burst.at == datetime(2026, 12, 1, 12, 1, tzinfo=UTC)
    assert burst.alerts[:2] == ("a000", "a001") and len(burst.alerts) == 500
    assert burst.cpu_seconds == pytest.approx(500 * TICK)
    assert burst.instants == 24 * 60  # every minute of the coming day
    assert (burst.jitter, burst.limit) == (88, 59)  # 175 CPU-s on 2 CPUs; * * * * * allows 59 s
    assert describe(burst, 2) == (
        "500 alerts ('a000' and 499 more) start in the same second, 2026-12-01 12:01:00 UTC, "
        "and 1439 more such seconds in the next 24 h: about 175 CPU-s at once, more than this "
        "host's 120 CPU-s a minute (2 CPUs); spread them with `jitter: 59s`, the most their "
        "schedule allows; that is still less than the 88s this host needs to run them, so "
        "also move some to other minutes"
    )


def test_an_hourly_burst_gets_the_jitter_the_host_needs() -> None:
    assert (
        find_burst(_same(300, "0 * * * *"), NOW, cpus=2, tick_cpu=TICK) is None
    )  # 105 CPU-s < 120
    burst = find_burst(_same(300, "0 * * * *"), NOW, cpus=1, tick_cpu=TICK)
    assert burst is not None and burst.at == datetime(2026, 12, 1, 13, tzinfo=UTC)
    assert burst.instants == 24
    assert describe(burst, 1).endswith(
        "spread them with `jitter: 105s` (on the alerts or under defaults:)"
    )


def test_jitter_offsets_spread_the_alerts_over_seconds() -> None:
    spread = [
        Start(s.alert, s.cron, s.zone, timedelta(seconds=i % 59, microseconds=i))
        for i, s in enumerate(_same(500))
    ]
    assert find_burst(spread, NOW, cpus=2, tick_cpu=TICK) is None


def test_alerts_in_different_zones_meet_at_one_instant() -> None:
    paris = _same(200, "0 9 * * *", "Europe/Paris")  # 08:00 UTC in winter
    utc = [Start(f"b{i}", "0 8 * * *", "UTC") for i in range(200)]
    burst = find_burst(paris + utc, NOW, cpus=1, tick_cpu=TICK)
    assert burst is not None and burst.at == datetime(2026, 12, 2, 8, tzinfo=UTC)
    assert len(burst.alerts) == 400 and burst.instants == 1


def test_few_alerts_are_never_a_burst() -> None:
    few, more = _same(bursts.BURST_MIN_ALERTS), _same(bursts.BURST_MIN_ALERTS + 1)
    assert find_burst(few, NOW, cpus=1, tick_cpu=10.0) is None  # 500 CPU-s, but only 50
    assert find_burst(more, NOW, cpus=1, tick_cpu=10.0) is not None


def test_a_tick_with_postgresql_state_costs_the_host_twice_as_much() -> None:
    """The burst bench: the server backend of each run's connection doubles its cost."""
    sqlite, pg = tick_cpu_seconds("sqlite:///s.db"), tick_cpu_seconds("postgresql://h/db")
    assert (sqlite, pg) == (TICK_CPU_SECONDS["sqlite"], TICK_CPU_SECONDS["postgresql"])
    assert tick_cpu_seconds("postgresql+psycopg://h/db") == pg
    count = int(120 / pg) + 10  # over 2 CPUs' minute with PostgreSQL, well under with SQLite
    assert find_burst(_same(count), NOW, cpus=2, tick_cpu=sqlite) is None
    assert find_burst(_same(count), NOW, cpus=2, tick_cpu=pg) is not None
