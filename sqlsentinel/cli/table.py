"""What commands print for people: tables that fit the terminal, text it never obeys.

Values come from queries and the state database, so anything may be in them. A terminal
obeys ESC sequences (colours, OSC "set window title"), CR rewinds a line, BEL rings and
U+202E reverses what follows; `printable` shows each such character as an escape
(`\\x1b`, `\\u202e`) instead. `json_text` writes the same characters as JSON escapes, so
`--json` decodes to exactly the values while staying safe to print.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

import click

from sqlsentinel.jsonsafe import to_jsonable

F = TypeVar("F", bound=Callable[..., Any])

# C0 and C1 controls, DEL, lone surrogates, the line and paragraph separators, and every
# bidirectional formatting character (embeddings, overrides, isolates and marks).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_IN_LINES = re.compile(_UNSAFE.pattern.replace("\x00-\x1f", "\x00-\x08\x0b-\x1f"))
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Inside JSON strings (the only place they can be: JSON's own syntax is ASCII).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    named = _NAMED.get(c)
    if named is not None:
        return named
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with every control and bidi character escaped; `lines` keeps tabs and line
    feeds (messages on stderr), else they are escaped too (a table cell is one line)."""
    return (_UNSAFE_IN_LINES if lines else _UNSAFE).sub(_escape, text)


def json_text(value: Any) -> str:
    """`value` as indented JSON, with what a terminal would obey written as `\\uXXXX`."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# ---------------------------------------------------------------------------------------
# Tables: fitted to the terminal, padded by display cells.

SEP = "  "
COMFORT = 12  # a shortened text column keeps this many cells before a column is dropped
CAP = 60  # without --wide, a text cell is never longer than this (but for the last column)
FLOOR = 6  # nor shorter than this or its header when shortened


class Column(NamedTuple):
    """How a table shows one field of its rows (`--json` shows the rows themselves).

    `show` computes the cell from the row (default: the row's `key`); `keep` ranks which
    columns go first when the terminal is too narrow (None: never dropped); `optional`
    hides a column no row has a value for (but with `--wide`); `wide` True shows it only
    with `--wide`, False only without; `fixed` never shortens it (None: when its values are
    numbers, times or empty); a shortened column with twice the `weight` gets twice the room.
    """

    key: str
    header: str = ""
    show: Callable[[Mapping[str, Any]], Any] | None = None
    keep: int | None = None
    optional: bool = False
    wide: bool | None = None
    fixed: bool | None = None
    weight: int = 1

    def value(self, row: Mapping[str, Any]) -> Any:
        return self.show(row) if self.show is not None else row.get(self.key)

    def title(self) -> str:
        return self.header or self.key.upper()


Columns = Sequence[str | Column]


def wide_option(f: F) -> F:
    """`--wide`: every column, whole, with full local times; the terminal's width ignored."""
    return click.option(
        "--wide", is_flag=True, help="Show every column in full, however wide the terminal."
    )(f)


def terminal_width() -> int | None:
    """The width to fit: $COLUMNS, else the terminal's; None (no limit) when stdout is not
    a terminal, as `ps` and `systemctl` do, so a pipe gets whole lines."""
    given = os.environ.get("COLUMNS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns or None
    except (OSError, ValueError):
        pass
    return None


def millis(key: str) -> Callable[[Mapping[str, Any]], str | None]:
    """A cell showing the row's milliseconds at `key` as people read them: 4.1ms, 2.5s, 3m05s."""

    def show(row: Mapping[str, Any]) -> str | None:
        ms = row.get(key)
        if not isinstance(ms, int | float) or isinstance(ms, bool):
            return None
        if abs(ms) < 1000:
            return f"{ms:.1f}ms" if ms % 1 else f"{ms:.0f}ms"
        if abs(ms) < 60_000:
            return f"{ms / 1000:.1f}s"
        minutes, seconds = divmod(round(ms / 1000), 60)
        return f"{minutes}m{seconds:02d}s"

    return show


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Columns,
    *,
    wide: bool = False,
    width: int | None = None,
    redact: Callable[[str], str] = lambda text: text,
) -> list[str]:
    """The lines of a table of `rows`: header first, cells padded by display width.

    Without `wide`, columns that must go (least `keep` first) go until the rest fit
    `width` comfortably, then text columns share what is left and are cut with `…`; times
    are short and local (`14:03:36` today, else `2026-12-06 09:00`). With `wide`, all of it.
    """
    specs = [_spec(c, i == len(columns) - 1) for i, c in enumerate(columns)]
    values = [[c.value(r) for c in specs] for r in rows]
    keep = [
        i
        for i, c in enumerate(specs)
        if c.wide in (None, wide) and (wide or not c.optional or any(v[i] for v in values))
    ]
    specs = [specs[i] for i in keep]
    values = [[v[i] for i in keep] for v in values]
    today = datetime.now().astimezone().date()
    cells = [[redact_cell(v, today, wide, redact) for v in row] for row in values]
    fixed = [
        c.fixed if c.fixed is not None else all(_atom(v[i]) for v in values)
        for i, c in enumerate(specs)
    ]
    titles = [c.title() for c in specs]
    natural = [
        max(cell_width(t), *(cell_width(row[i]) for row in cells)) for i, t in enumerate(titles)
    ]
    if not wide:
        natural = [n if fixed[i] else min(n, CAP) for i, n in enumerate(natural)]
    shown, widths = list(range(len(specs))), natural
    if width is not None and not wide:
        ranks = [(c.keep, c.weight) for c in specs]
        shown, widths = _fit(natural, titles, fixed, ranks, width)
    lines = [_line([titles[i] for i in shown], [widths[i] for i in shown])]
    lines += [_line([row[i] for i in shown], [widths[i] for i in shown]) for row in cells]
    return lines


def _spec(column: str | Column, last: bool) -> Column:
    """A plain column name: never dropped, and the last one (errors, details) never cut."""
    if isinstance(column, Column):
        return column
    return Column(column, fixed=True if last else None)


def _atom(value: Any) -> bool:
    return value is None or isinstance(value, int | float | Decimal | dt.datetime | dt.date)


def redact_cell(value: Any, today: dt.date, wide: bool, redact: Callable[[str], str]) -> str:
    """One value as one line of text: `-` for none, yes/no, a short local time, compact
    JSON for lists and objects; secrets redacted, controls escaped."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return local_time(value, today, wide)
    if isinstance(value, dict | list):
        text = json.dumps(to_jsonable(value), ensure_ascii=False)
    else:
        text = str(to_jsonable(value))
    return printable(redact(text))


def local_time(moment: dt.datetime, today: dt.date, wide: bool) -> str:
    """`14:03:36` on `today`, else `2026-12-06 09:00`; with `wide`, date and seconds always."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone()
    if wide:
        return local.strftime("%Y-%m-%d %H:%M:%S")
    return local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M")


def short_time(value: Any) -> str:
    """A time as a table shows it without --wide (anything else as its text)."""
    if not isinstance(value, dt.datetime):
        return str(value)
    return local_time(value, datetime.now().astimezone().date(), False)


def cell_width(text: str) -> int:
    """How many terminal cells `text` takes (CJK and emoji take two, combining marks none)."""
    if text.isascii():
        return len(text)  # printable: no controls left
    from wcwidth import wcswidth, wcwidth

    cells = wcswidth(text)
    return cells if cells >= 0 else sum(max(wcwidth(c), 0) for c in text)


def cut(text: str, cells: int) -> str:
    """`text` within `cells` cells, ending in an ellipsis when shortened."""
    if cell_width(text) <= cells:
        return text
    mark = _ellipsis()
    room = cells - len(mark)
    low, high = 0, len(text)  # the longest prefix that fits: widths grow with the prefix
    while low < high:
        mid = (low + high + 1) // 2
        if cell_width(text[:mid]) <= room:
            low = mid
        else:
            high = mid - 1
    return text[:low] + mark if room > 0 else mark[:cells]


def _ellipsis() -> str:
    try:
        "…".encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return "..."
    return "…"


def _fit(
    natural: list[int],
    titles: list[str],
    fixed: list[bool],
    ranks: list[tuple[int | None, int]],
    room: int,
) -> tuple[list[int], list[int]]:
    """Which columns to show and how wide, within `room` cells where it can be done; `ranks`
    are each column's `keep` and `weight`."""
    keep = [k for k, _ in ranks]
    least = [
        n if fixed[i] else min(n, max(cell_width(titles[i]), FLOOR)) for i, n in enumerate(natural)
    ]
    comfort = [n if fixed[i] else min(n, max(least[i], COMFORT)) for i, n in enumerate(natural)]
    shown = list(range(len(natural)))

    def needs(sizes: list[int]) -> int:
        return sum(sizes[i] for i in shown) + len(SEP) * (len(shown) - 1)

    droppable = sorted((i for i in shown if keep[i] is not None), key=lambda i: (keep[i], -i))
    for i in droppable:
        if needs(comfort) <= room:
            break
        shown.remove(i)
    widths = list(least)
    spare = room - needs(widths)
    while spare > 0:  # the column that is cut narrowest for its weight grows, a cell at a time
        growing = [i for i in shown if widths[i] < natural[i]]
        if not growing:
            break
        widths[min(growing, key=lambda i: (widths[i] / ranks[i][1], i))] += 1
        spare -= 1
    return shown, widths


def _line(cells: list[str], widths: list[int]) -> str:
    out = []
    for text, cells_wide in zip(cells, widths, strict=True):
        text = cut(text, cells_wide)
        out.append(text + " " * (cells_wide - cell_width(text)))
    return SEP.join(out).rstrip()
