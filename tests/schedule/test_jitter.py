"""`jitter`: systemd's fixed random delay (SipHash-2-4) and the longest jitter a schedule allows.

That `fixed_delay` equals what systemd itself does is proven against a real manager in
tests/systemd/test_jitter_manager.py.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest
from siphashc import siphash

from sqlsentinel.schedule.jitter import fixed_delay, max_jitter, randomized_delay_sec
from sqlsentinel.schedule.spacing import shortest_interval

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = bytes(range(16))
MACHINE = bytes.fromhex("3d1219c7c4c5404aaa1f6d2a48adfda4")

# The SipHash paper (Aumasson, Bernstein 2012), appendix A, and the reference
# implementation's vectors.h: key 00 01 … 0f, message 00 01 … (n-1), 64-bit output.
PAPER_VECTORS = {
    0: 0x726FDB47DD0E0E31,
    1: 0x74F839C593DC67FD,
    2: 0x0D6C8009D9A94F5A,
    3: 0x85676696D7FB7E2D,
    15: 0xA129CA6149BE45E5,
}


@pytest.mark.parametrize(("length", "expected"), PAPER_VECTORS.items())
def test_siphash24_matches_the_reference_vectors(length: int, expected: int) -> None:
    assert siphash(KEY, bytes(range(length))) == expected


def test_fixed_delay_is_systemds_hash_modulo_the_delay() -> None:
    unit = "sqlsentinel-x-1234abcd.timer"
    data = MACHINE + b"\x00" + (1000).to_bytes(4, sys.byteorder) + unit.encode()
    expected = siphash(bytes.fromhex("510adb76295142c28035eae68e3a37bd"), data) % 30_000_000
    assert fixed_delay(MACHINE, False, 1000, unit, 30) == timedelta(microseconds=expected)


def test_fixed_delay_depends_on_every_input_and_stays_below_the_jitter() -> None:
    base = fixed_delay(MACHINE, False, 0, "a.timer", 30)
    assert timedelta(0) <= base < timedelta(seconds=30)
    assert base == fixed_delay(MACHINE, False, 0, "a.timer", 30)
    others = {
        fixed_delay(bytes(16), False, 0, "a.timer", 30),
        fixed_delay(MACHINE, True, 0, "a.timer", 30),
        fixed_delay(MACHINE, False, 1000, "a.timer", 30),
        fixed_delay(MACHINE, False, 0, "b.timer", 30),
    }
    assert base not in others and len(others) == 4
    assert fixed_delay(MACHINE, False, 0, "a.timer", 0) == timedelta(0)
    with pytest.raises(ValueError, match="16 bytes"):
        fixed_delay(b"short", False, 0, "a.timer", 30)


@pytest.mark.parametrize(
    ("jitter", "value"), [(30, "30s"), (1.5, "1500000us"), (0, None), (1e-9, None)]
)
def test_randomized_delay_sec_value(jitter: float, value: str | None) -> None:
    assert randomized_delay_sec(jitter) == value


@pytest.mark.parametrize(
    ("cron", "zone", "shortest"),
    [
        ("* * * * *", "UTC", timedelta(minutes=1)),
        ("*/5 * * * *", "UTC", timedelta(minutes=5)),
        ("0,10 * * * *", "UTC", timedelta(minutes=10)),  # not the 50 minutes to :00
        ("*/5 9-17 * * *", "UTC", timedelta(minutes=5)),
        ("55 23 * * *", "UTC", timedelta(days=1)),
        ("0 0 * * 1,3", "UTC", timedelta(days=2)),
        ("0 0 1 * *", "UTC", timedelta(days=28)),  # February
        ("0 0 29 2 *", "UTC", timedelta(days=1461)),
        ("0 * * * *", "Australia/Adelaide", timedelta(hours=1)),  # emitted in UTC
        ("0 9-17 * * *", "Europe/Paris", timedelta(hours=1)),
        # New York springs forward 02:00 -> 03:00: the gap across the jump shrinks by 1 h
        ("30 1 * * *", "America/New_York", timedelta(hours=23)),
        ("59 1,3 * * *", "America/New_York", timedelta(hours=1)),
    ],
)
def test_shortest_interval(cron: str, zone: str, shortest: timedelta) -> None:
    assert shortest_interval(cron, zone, NOW) == shortest


def test_max_jitter_leaves_the_timer_accuracy() -> None:
    assert max_jitter("* * * * *", "UTC", NOW) == timedelta(seconds=59)
    assert max_jitter("0 0 * * 1,3", "UTC", NOW) == timedelta(days=2, seconds=-1)
