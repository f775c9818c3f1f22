"""Shared helpers for the proof: compare systemd-analyze over emitted lines with the reference.

The zone of each line is passed as `TZ=` with the suffix stripped (identical results,
twenty times faster; `test_dst.py` checks that on real suffixed lines).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from sqlsentinel.schedule.timer import Timer
from sqlsentinel.schedule.translate import ScheduleError, translate
from sqlsentinel.systemd import analyze as systemd_calendar

ITERATIONS = 500
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def local_midnight(zone: str, day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


# zone -> base times: New Year and the local midnight of each 2026 transition day
FULL_BASES = {
    "UTC": [NOW],
    "America/New_York": [
        local_midnight("America/New_York", d) for d in ("2026-01-01", "2026-03-08", "2026-11-01")
    ],
    "Europe/London": [
        local_midnight("Europe/London", d) for d in ("2026-01-01", "2026-03-29", "2026-10-25")
    ],
}
TRANSITION_BASES = {zone: bases[-2:] for zone, bases in FULL_BASES.items()}


def split_suffix(line: str) -> tuple[str, str]:
    body, _, zone = line.rpartition(" ")
    return body, zone


def mismatches(
    expressions: Sequence[str], bases: dict[str, list[datetime]], iterations: int = ITERATIONS
) -> list[str]:
    """Where the union of systemd's elapses over each expression's lines differs from the model."""
    translations = {
        (expr, zone): translate(expr, zone, now=NOW) for expr in expressions for zone in bases
    }
    jobs: dict[tuple[str, datetime], list[tuple[str, str, str]]] = defaultdict(list)
    for (expr, zone), translation in translations.items():
        for line in translation.on_calendar:
            body, line_zone = split_suffix(line)
            for base in bases[zone]:
                jobs[(line_zone, base)].append((expr, zone, body))
    union: dict[tuple[str, str, datetime], set[datetime]] = defaultdict(set)

    def run(key: tuple[str, datetime]) -> None:
        line_zone, base = key
        specs = jobs[key]
        results = systemd_calendar.next_elapses(
            [body for _, _, body in specs], base=base, iterations=iterations, zone=line_zone
        )
        for (expr, zone, _), elapses in zip(specs, results, strict=True):
            union[(expr, zone, base)].update(elapses)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(run, jobs))
    problems = []
    for (expr, zone), translation in translations.items():
        model = Timer.in_zone(expr, zone, now=NOW)
        for base in bases[zone]:
            expected = list(islice(model.iter_after(base), iterations))
            actual = sorted(union[(expr, zone, base)])[:iterations]
            if actual != expected:
                diff = sorted(set(actual) ^ set(expected))[:3]
                problems.append(
                    f"{expr!r} in {zone} from {base:%Y-%m-%d %H:%M}Z "
                    f"via {translation.on_calendar}: "
                    f"{len(actual)} vs {len(expected)} instants, first differences {diff}"
                )
    return problems


def translatable(expr: str) -> bool:
    try:
        translate(expr, now=NOW)
    except ScheduleError:
        return False
    return True


def _field(
    low: int, high: int, names: tuple[str, ...] = (), base: int = 0
) -> st.SearchStrategy[str]:
    """A cron field: a list of `*`, `*/s`, `v`, `a-b`, `a-b/s`, biased towards small values."""
    values = st.one_of(st.integers(low, min(high, low + 3)), st.integers(low, high))
    steps = st.one_of(st.integers(1, 4), st.integers(1, high - low + 2))

    @st.composite
    def item(draw: st.DrawFn) -> str:
        def token(value: int) -> str:
            if names and 0 <= value - base < len(names) and draw(st.booleans()):
                name = names[value - base]
                return name.upper() if draw(st.booleans()) else name
            return str(value)

        kind = draw(st.sampled_from(["*", "*/", "v", "v", "a-b", "a-b/"]))
        if kind == "*":
            return "*"
        if kind == "*/":
            return f"*/{draw(steps)}"
        if kind == "v":
            return token(draw(values))
        a, b = sorted((draw(values), draw(values)))
        text = f"{token(a)}-{token(b)}"
        return f"{text}/{draw(steps)}" if kind == "a-b/" else text

    return st.lists(item(), min_size=1, max_size=3).map(",".join)


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@st.composite
def _days(draw: st.DrawFn) -> tuple[str, str]:
    """Day-of-month and day-of-week, with the `L`, `Ln`, `n#k` and `?` extensions now and then."""
    kind = draw(st.sampled_from(["plain", "plain", "plain", "star", "L", "weekday-ext"]))
    dom = draw(_field(1, 31))
    dow = draw(_field(0, 7, WEEKDAYS))
    if kind == "star":
        return draw(st.sampled_from(["*", "?"])), dow
    if kind == "L":
        return f"{dom},L" if draw(st.booleans()) else "L", dow
    if kind == "weekday-ext":
        weekday = draw(st.integers(0, 7))
        ext = draw(
            st.sampled_from([f"{weekday}#{draw(st.integers(1, 5))}", f"L{weekday}", f"{weekday}L"])
        )
        return draw(st.sampled_from(["*", "?"])), f"{dow},{ext}" if draw(st.booleans()) else ext
    return dom, dow


@st.composite
def _cron(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(["@yearly", "@monthly", "@weekly", "@daily", "@hourly"]))
    minute = draw(st.one_of(st.just("*"), _field(0, 59)))
    hour = draw(st.one_of(st.just("*"), _field(0, 23)))
    dom, dow = draw(st.one_of(st.just(("*", "*")), _days()))
    month = draw(st.one_of(st.just("*"), _field(1, 12, MONTHS, 1)))
    return f"{minute} {hour} {dom} {month} {dow}"


cron_expressions = _cron().filter(translatable)
