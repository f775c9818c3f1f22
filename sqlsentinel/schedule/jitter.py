"""An alert's `jitter`: systemd's fixed random delay, computed exactly, and its upper bound.

`jitter: 30s` becomes the timer's `RandomizedDelaySec=30s` with `FixedRandomDelay=yes`.
systemd then delays every elapse of that timer by one fixed offset in [0, jitter), which
systemd 252 derives in `timer_get_fixed_delay_hash()` (src/core/timer.c): SipHash-2-4
under a fixed key of the machine ID (16 bytes), whether the manager is the system manager
(1 byte), the manager's uid (a native-endian 32-bit `uid_t`) and the timer unit's name
(no terminating NUL); the offset is that hash modulo the delay in microseconds. With
`fixed_delay` the preview, `validate` and the daemon's local backend know each run time.

The next elapse is computed from the previous one (the delayed trigger time), so a delay
of a whole interval or more skips runs: `max_jitter` bounds `jitter` by the schedule's
shortest interval less the timer's accuracy.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlsentinel.schedule.cron import CronSpec

FIXED_DELAY_KEY = bytes.fromhex("510adb76295142c28035eae68e3a37bd")  # timer.c's hash_key
TIMER_ACCURACY = timedelta(seconds=1)  # every alert timer's AccuracySec=
_USEC = 1_000_000


def delay_usec(jitter: float) -> int:
    """`jitter` seconds as the whole microseconds of `RandomizedDelaySec=`."""
    return round(jitter * _USEC)


def randomized_delay_sec(jitter: float) -> str | None:
    """The `RandomizedDelaySec=` value for `jitter` seconds (`30s`, `1500000us`; None: none)."""
    usec = delay_usec(jitter)
    if usec <= 0:
        return None
    return f"{usec // _USEC}s" if usec % _USEC == 0 else f"{usec}us"


def fixed_delay(machine_id: bytes, system: bool, uid: int, unit: str, jitter: float) -> timedelta:
    """The offset systemd adds to every elapse of timer `unit` with `jitter` seconds of delay.

    `machine_id`: the 16 bytes of /etc/machine-id (16 zero bytes where it is unset);
    `system`: the system manager (else a user manager); `uid`: the manager's uid (0 for
    the system manager); `unit`: the timer's name, e.g. `sqlsentinel-x-1234abcd.timer`.
    """
    usec = delay_usec(jitter)
    if usec <= 0:
        return timedelta(0)
    from siphashc import siphash

    if len(machine_id) != 16:
        raise ValueError("a machine ID is 16 bytes")
    data = machine_id + bytes([system]) + uid.to_bytes(4, sys.byteorder) + unit.encode()
    return timedelta(microseconds=siphash(FIXED_DELAY_KEY, data) % usec)


def max_jitter(cron: str, zone: str, now: datetime, parsed: CronSpec | None = None) -> timedelta:
    """The longest `jitter` that never skips or bunches runs of `cron` in `zone` (`parsed`:
    `cron` already parsed).

    systemd computes the next elapse from the previous, delayed trigger (which may be up
    to `TIMER_ACCURACY` late), so the delay must stay below the shortest interval.
    """
    from sqlsentinel.schedule.spacing import shortest_interval  # zoneinfo: validating only

    return shortest_interval(cron, zone, now, parsed) - TIMER_ACCURACY
