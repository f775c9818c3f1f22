"""The cost of the routing decision (core/route.py) at 1,000 alerts x a 20-rule policy.

Each alert is routed once per "tick", as every run does: with the whole policy (every
rule tested, the worst case), and with the rules the config compiler kept for that alert
(what `sqlsentinel run` tests: the glob, tags and database already settled). Half the
alerts are firing with no news, so the receivers with a `repeat` are checked too.
Prints the time of one tick of all alerts (best of 5) and per alert.

Run: `python bench/bench_route.py [--alerts 1000] [--rules 20]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.route import Subject, parse_severity_match, route, static_match
from sqlsentinel.core.severity import Severity
from sqlsentinel.core.spec import RouteMatch, RouteRule

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SEVERITIES = tuple(Severity)


def policy(n: int) -> tuple[RouteRule, ...]:
    """`n` rules of every kind of condition; the last catches everything."""
    rules = []
    for i in range(n - 1):
        kind = i % 5
        match = (
            RouteMatch(alert=f"team{i}-*"),
            RouteMatch(tags=(f"t{i}", "prod")),
            RouteMatch(severity=parse_severity_match(">=error"), alert=f"*-{i}"),
            RouteMatch(database=f"db{i}", severity=parse_severity_match("critical")),
            RouteMatch(alert="keyed-*", key={"region": f"r{i}"}),
        )[kind]
        rules.append(RouteRule(match, (f"recv{i}",), repeat=3600.0 if kind == 2 else None,
                               continue_=i % 3 == 0))  # fmt: skip
    rules.append(RouteRule(RouteMatch(), ("fallback",)))
    return tuple(rules)


def subjects(n: int) -> list[Subject]:
    return [
        Subject(f"team{i % 40}-{i % 23}", SEVERITIES[i % 4], i % 2 == 0,
                (f"t{i % 19}", "prod"), f"db{i % 7}", {"region": f"r{i % 20}"})
        for i in range(n)
    ]  # fmt: skip


def tick(work: list[tuple[Subject, tuple[RouteRule, ...]]]) -> float:
    last = {"recv2": NOW - timedelta(minutes=30)}
    start = time.perf_counter()
    for i, (s, rules) in enumerate(work):
        reason = NotifyReason.FIRING if i % 2 else None
        route(s, reason, ("",), rules, last, NOW)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=20)
    args = parser.parse_args()
    rules, alerts = policy(args.rules), subjects(args.alerts)
    whole = [(s, rules) for s in alerts]
    kept = [
        (s, tuple(r for r in rules if static_match(r.match, s.alert, s.tags, s.database)))
        for s in alerts
    ]
    print(f"{args.alerts} alerts x {args.rules} rules")
    for name, work in (("whole policy", whole), ("compiled (per alert)", kept)):
        best = min(tick(work) for _ in range(5))
        per = best / args.alerts * 1e6
        print(f"  {name:<22} {best * 1e3:8.2f} ms per tick of all alerts, {per:6.1f} us/alert")
    mean = sum(len(r) for _, r in kept) / len(kept)
    print(f"  rules kept per alert by the compiler: {mean:.1f} on average")


if __name__ == "__main__":
    main()
