"""Durations written as `90s`, `5m`, `4h`, `1d` (or combined: `1h30m`)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")  # ASCII digits only


MAX_SECONDS = 3650 * 86400.0  # ten years: longer durations are mistakes (and overflow dates)


def parse_duration(text: str | int | float) -> timedelta:
    """Parse a duration; a bare number means seconds. Raises ValueError with a plain message."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError("expected a duration such as 90s, 5m, 4h or 1d")
    if isinstance(text, int | float):
        return _checked(float(text))
    s = text.strip().lower().replace(" ", "")
    if not s:
        raise ValueError("expected a duration such as 90s, 5m, 4h or 1d")
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", s):
        return _checked(float(s))
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"{text!r} is not a duration; write it like 90s, 5m, 4h, 1d or 1h30m")
    return _checked(total)


def _checked(seconds: float) -> timedelta:
    if seconds != seconds or seconds < 0:  # NaN or negative
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_SECONDS:
        raise ValueError("a duration cannot be longer than 3650d (ten years)")
    return timedelta(seconds=seconds)


def format_duration(seconds: float) -> str:
    """`seconds` the way durations are written in a config: `59s`, `1h30m`, `1d`, `1.5s`."""
    whole, rest = divmod(round(seconds * 1000), 1000)
    text = ""
    for unit in ("w", "d", "h", "m"):
        count, whole = divmod(whole, int(_UNITS[unit]))
        text += f"{count}{unit}" if count else ""
    if rest:
        return text + f"{whole}.{rest:03d}".rstrip("0") + "s"
    return text + f"{whole}s" if whole or not text else text
