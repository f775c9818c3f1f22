"""Benchmark: expressions per second for `translate` alone and for translate + systemd check.

Run: python bench/bench_cron.py [--count N]. The expressions are corpus forms with
varying minutes, spread over the zones UTC, America/New_York and Europe/London, so most
emitted lines are distinct. Caches (zone transitions) are warmed first.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from sqlsentinel.schedule import systemd_calendar
from sqlsentinel.schedule.translate import translate, verify_with_systemd

TEMPLATES = (
    "{m} 4 1,15 * 5",
    "{m}-59/15 * * * *",
    "{m} 9-17 * * 1-5",
    "{m} 0 * * 0",
    "{m} 0 */2 * 1",
    "{m} 1 7,14,21,L * *",
    "{m} 1,5 * * L5",
    "{m} 9 * * 5#3",
    "{m} 0-5,18-23 * * *",
    "{m} 2 * * *",
)
ZONES = ("UTC", "America/New_York", "Europe/London")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3000, help="expressions to translate")
    count = parser.parse_args().count
    work = [
        (TEMPLATES[i % len(TEMPLATES)].format(m=i // len(TEMPLATES) % 60), ZONES[i % len(ZONES)])
        for i in range(count)
    ]
    for zone in ZONES:
        translate("0 1 * * *", zone, now=NOW)

    start = time.perf_counter()
    translations = [translate(cron, zone, now=NOW) for cron, zone in work]
    elapsed = time.perf_counter() - start
    print(f"translate:          {count / elapsed:10.0f} expressions/s ({count} in {elapsed:.2f} s)")

    if not systemd_calendar.available():
        print("translate + verify: skipped (systemd-analyze not found)")
        return
    start = time.perf_counter()
    translations = [translate(cron, zone, now=NOW) for cron, zone in work]
    problems = verify_with_systemd(translations)
    elapsed = time.perf_counter() - start
    lines = len({line for t in translations for line in t.on_calendar})
    print(
        f"translate + verify: {count / elapsed:10.0f} expressions/s "
        f"({count} expressions, {lines} distinct lines, {len(problems)} problems, {elapsed:.2f} s)"
    )


if __name__ == "__main__":
    main()
