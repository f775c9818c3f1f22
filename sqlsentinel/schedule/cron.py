"""Parse Vixie/cronie cron text into explicit field sets, or reject it with a reason and a hint.

Semantics follow cronie's `entry.c`: five fields, 3-letter names, Sunday as 0 or 7, steps
counted from the field minimum (or the range start), `a-a` is `{a}`, `x-0` in day-of-week
means `x-7`, and the day-of-month/day-of-week OR rule decided by each field's first
character. Supported extensions, all exactly expressible in systemd: `L` (last day of the
month, in day-of-month lists), `Ln`/`nL` (last weekday n of the month), `n#k` (k-th
weekday n) and `?` (= `*`, as a whole day field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FULL_NAMES = {
    **{n: n[:3] for n in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday")},
    "sunday": "sun",
    "tues": "tue",
    "thur": "thu",
    "thurs": "thu",
    **{
        n: n[:3]
        for n in (
            "january",
            "february",
            "march",
            "april",
            "june",
            "july",
            "august",
            "september",
            "sept",
            "october",
            "november",
            "december",
        )
    },
}
_FIVE_FIELDS = "five fields `minute hour day-of-month month day-of-week`"


class ScheduleError(ValueError):
    """A schedule that cannot be translated exactly: `reason` says why, `hint` what to write."""

    def __init__(self, reason: str, hint: str) -> None:
        self.reason = reason
        self.hint = hint
        super().__init__(f"{reason}; {hint}")


@dataclass(frozen=True)
class Field:
    """One cron field: its name, bounds and (for month/day-of-week) its names."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


MINUTE = Field("minute", 0, 59)
HOUR = Field("hour", 0, 23)
DOM = Field("day-of-month", 1, 31)
MONTH = Field("month", 1, 12, MONTH_NAMES, 1)
DOW = Field("day-of-week", 0, 7, DOW_NAMES, 0)


@dataclass(frozen=True)
class CronSpec:
    """A parsed schedule: explicit sets (cronie's bit sets) plus the extension items.

    Weekdays are 0 (Sunday) to 6; a written 7 is stored as 0.
    """

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    last_day: bool = False  # `L` in day-of-month
    nth_weekdays: frozenset[tuple[int, int]] = frozenset()  # `n#k` as (weekday, k)
    last_weekdays: frozenset[int] = frozenset()  # `Ln` / `nL`
    dom_star: bool = False  # day-of-month text starts with `*` (or is `?`)
    dow_star: bool = False  # day-of-week text starts with `*` (or is `?`)
    warnings: tuple[str, ...] = ()

    @property
    def or_rule(self) -> bool:
        """True when cron ORs the two day fields (neither starts with `*`)."""
        return not (self.dom_star or self.dow_star)


def parse(text: str) -> CronSpec:
    """Parse five-field cron text or a macro; raise `ScheduleError` for anything not exact."""
    stripped = text.strip()
    if not stripped:
        raise ScheduleError(
            "the schedule is empty", f"write {_FIVE_FIELDS}, e.g. `0 * * * *`, or `@hourly`"
        )
    if stripped.startswith("@"):
        return replace(parse(_expand_macro(stripped)), text=text)
    parts = stripped.split()
    if len(parts) != 5:
        raise _field_count_error(len(parts))
    minute, hour, dom, month, dow = parts
    warnings: list[str] = []
    minutes = _parse_field(minute, MINUTE, warnings)
    hours = _parse_field(hour, HOUR, warnings)
    dom_items, last_day = _split_last_day(dom)
    days = _parse_field(dom_items, DOM, warnings, whole=dom) if dom_items else frozenset()
    months = _parse_field(month, MONTH, warnings)
    weekdays, nth, last_wd = _parse_dow(dow, warnings)
    spec = CronSpec(
        text=text,
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        last_day=last_day,
        nth_weekdays=nth,
        last_weekdays=last_wd,
        dom_star=dom.startswith("*") or dom == "?",
        dow_star=dow.startswith("*") or dow == "?",
        warnings=tuple(warnings),
    )
    if (nth or last_wd) and dom not in ("*", "?"):
        item = next(i for i in dow.split(",") if "#" in i or "l" in i.lower())
        raise ScheduleError(
            f"`{item}` in the day-of-week field cannot be combined with a restricted "
            f"day-of-month (`{dom}`): cron dialects disagree whether that means AND or OR",
            "set the day-of-month to `*`, or use two alerts",
        )
    return spec


def _expand_macro(text: str) -> str:
    word = text.split()[0].lower()
    if word in MACROS and text.lower() == word:
        return MACROS[word]
    if word == "@reboot":
        raise ScheduleError(
            "`@reboot` has no calendar equivalent: systemd's OnBootSec= also fires when "
            "the timer is started after boot",
            "use a calendar schedule such as `@hourly`, or run the alert from a boot-time unit",
        )
    if word == "@every":
        raise ScheduleError(
            f"`{text}` is an interval (robfig/cron), not a calendar schedule",
            "write a cron step instead, e.g. `*/5 * * * *` (every 5 minutes) "
            "or `0 */2 * * *` (every 2 hours)",
        )
    if word in MACROS:
        raise ScheduleError(f"`{word}` takes no arguments", f"write just `{word}`")
    raise ScheduleError(
        f"unknown macro `{word}`",
        "use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, "
        f"or {_FIVE_FIELDS}",
    )


def _field_count_error(count: int) -> ScheduleError:
    if count > 5:
        return ScheduleError(
            f"{count} fields given; only 5-field cron is accepted, because dialects disagree "
            "whether a sixth or seventh field means seconds or year",
            f"drop the extra fields and write {_FIVE_FIELDS}",
        )
    return ScheduleError(
        f"only {count} field{'s' if count > 1 else ''} given",
        f"write {_FIVE_FIELDS}, e.g. `0 * * * *`",
    )


def _split_last_day(dom: str) -> tuple[str, bool]:
    """Remove `L` items from a day-of-month list; return the rest and whether `L` was there."""
    items = dom.split(",")
    rest = [i for i in items if i.upper() != "L"]
    return ",".join(rest), len(rest) != len(items)


_NTH = re.compile(r"^([a-z]+|\d+)#(\d+)$", re.IGNORECASE | re.ASCII)
_LAST_WD = re.compile(r"^L([a-z]{3}|\d)$|^([a-z]{3}|\d)L$", re.IGNORECASE | re.ASCII)


def _parse_dow(
    text: str, warnings: list[str]
) -> tuple[frozenset[int], frozenset[tuple[int, int]], frozenset[int]]:
    """Split day-of-week into plain weekdays, `n#k` items and `Ln` items."""
    if text == "?":
        return frozenset(range(7)), frozenset(), frozenset()
    plain: list[str] = []
    nth: set[tuple[int, int]] = set()
    last: set[int] = set()
    for item in text.split(","):
        if item.upper() == "L":
            raise ScheduleError(
                "`L` alone in the day-of-week field is ambiguous (Quartz reads it as Saturday)",
                "write `sat`, or `L5` for the last Friday of the month",
            )
        if "#" in item:
            match = _NTH.match(item)
            if not match:
                raise ScheduleError(
                    f"`{item}` in the day-of-week field: `#` needs a single weekday before it",
                    "write one item per weekday, e.g. `mon#1,tue#1`",
                )
            k = int(match.group(2))
            if not 1 <= k <= 5:
                raise ScheduleError(
                    f"`{item}` in the day-of-week field: the number after `#` must be 1-5",
                    "write e.g. `fri#3` for the third Friday of the month",
                )
            nth.add((_value(match.group(1), DOW, item) % 7, k))
            continue
        match = _LAST_WD.match(item)
        if match:
            last.add(_value(match.group(1) or match.group(2), DOW, item) % 7)
            continue
        plain.append(item)
    weekdays = (
        frozenset(v % 7 for v in _parse_field(",".join(plain), DOW, warnings, whole=text))
        if plain
        else frozenset()
    )
    return weekdays, frozenset(nth), frozenset(last)


_ITEM = re.compile(r"^(?P<start>\*|[^-/*]+)(?:-(?P<stop>[^-/*]+))?(?:/(?P<step>[^/]*))?$")


def _parse_field(text: str, field: Field, warnings: list[str], whole: str = "") -> frozenset[int]:
    """Expand one field (a comma list of `*`, `v`, `v-w`, with optional `/step`) to a set."""
    whole = whole or text
    if text == "?":
        return _question(field, whole)
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ScheduleError(
                f"empty item in the {field.name} field `{whole}`", "remove the extra comma"
            )
        _reject_dialect_item(item, field)
        match = _ITEM.match(item)
        if not match:
            raise _bad_value(item, field)
        start, stop, step_text = match.group("start", "stop", "step")
        low, high = _item_range(item, start, stop, field)
        step = 1 if step_text is None else _step(item, start, stop, step_text, low, high, field)
        if step > high - low and high > low:
            warnings.append(
                f"step {step} in `{item}` is larger than the {field.name} range, "
                f"so only {low} is selected"
            )
        values.update(range(low, high + 1, step))
    return frozenset(values)


def _question(field: Field, whole: str) -> frozenset[int]:
    """`?`: the whole day-of-month or day-of-week field, meaning `*`."""
    if field not in (DOM, DOW):
        raise ScheduleError(
            f"`?` is only allowed as the whole day-of-month or day-of-week field, "
            f"not in the {field.name} field",
            "write `*`",
        )
    if whole != "?":
        raise ScheduleError(
            f"`?` must be the whole {field.name} field, not part of `{whole}`", "write `*`"
        )
    return frozenset(range(field.low, field.high + 1))


def _item_range(item: str, start: str, stop: str | None, field: Field) -> tuple[int, int]:
    """The first and last value of `*`, `v` or `v-w`."""
    if start == "*":
        if stop is not None:
            raise _bad_value(item, field)
        return field.low, field.high
    low = _value(start, field, item)
    high = low if stop is None else _value(stop, field, item)
    if field is DOW and high == 0 and stop is not None and low > 0:
        high = 7  # cronie: `x-0` means `x-7`
    if high < low:
        raise ScheduleError(
            f"range `{item}` in the {field.name} field runs backwards: cronie matches "
            "nothing with it and other dialects wrap around",
            f"split it into two ranges, e.g. `{_wrap_hint(low, high, field)}`",
        )
    return low, high


def _step(
    item: str, start: str, stop: str | None, step_text: str, low: int, high: int, field: Field
) -> int:
    """The `/step` of an item (only after `*` or a range, at least 1)."""
    if start != "*" and stop is None:
        raise ScheduleError(
            f"`{item}` in the {field.name} field has a step but no range, "
            "which cron (cronie) rejects",
            f"write `{start}-{field.high}/{step_text}`" if low < field.high else f"write `{start}`",
        )
    if not (step_text.isascii() and step_text.isdigit()):
        raise _bad_value(item, field)
    step = int(step_text)
    if step == 0:
        raise ScheduleError(
            f"step 0 in the {field.name} field `{item}`", "use a step of at least 1, e.g. `*/5`"
        )
    return step


def _reject_dialect_item(item: str, field: Field) -> None:
    """Reject the known non-cronie forms with a specific message."""
    upper = item.upper()
    if field is DOM and "W" in upper:
        raise ScheduleError(
            f"`{item}` (nearest weekday) in the day-of-month field is not supported: "
            "it is not standard cron and dialects disagree at month edges",
            "list the days explicitly, e.g. `15`, or use `L` for the last day of the month",
        )
    if field is DOM and upper.startswith("L"):
        raise ScheduleError(
            f"`{item}` in the day-of-month field is not supported: only a plain `L` "
            "(last day of the month) is",
            "use `L`, or list the days explicitly",
        )
    if upper.startswith("H") and (len(upper) == 1 or not upper[1].isalpha()):
        raise ScheduleError(
            f"`{item}` in the {field.name} field is a hashed value (Jenkins), not cron syntax",
            "pick a fixed value, e.g. `17`",
        )
    if "~" in item:
        raise ScheduleError(
            f"`{item}` in the {field.name} field picks a random value, which is not deterministic",
            "pick a fixed value, e.g. `17`",
        )


def _value(token: str, field: Field, item: str) -> int:
    """A number (ASCII digits only, not U+0665 for 5) or 3-letter name within the field's bounds."""
    if token.isascii() and token.isdigit():
        number = int(token)
        if not field.low <= number <= field.high:
            raise ScheduleError(
                f"`{token}` is out of range for the {field.name} field ({field.low}-{field.high})",
                f"use a value between {field.low} and {field.high}",
            )
        return number
    lower = token.lower()
    if lower in field.names:
        return field.names.index(lower) + field.name_base
    if field.names and lower in _FULL_NAMES:
        raise ScheduleError(
            f"`{token}` is not a valid {field.name} name: cron accepts only 3-letter names",
            f"write `{_FULL_NAMES[lower]}`",
        )
    raise _bad_value(item, field)


def _bad_value(item: str, field: Field) -> ScheduleError:
    names = f", or names `{field.names[0]}`-`{field.names[-1]}`" if field.names else ""
    return ScheduleError(
        f"`{item}` is not a valid {field.name} value",
        f"use numbers {field.low}-{field.high}{names}, `*`, ranges `a-b` and steps `/n`",
    )


def _wrap_hint(low: int, high: int, field: Field) -> str:
    top = 6 if field is DOW else field.high
    first = str(low) if low == top else f"{low}-{top}"
    second = str(field.low) if high == field.low else f"{field.low}-{high}"
    return f"{first},{second}"
