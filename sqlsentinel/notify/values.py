"""Query values as message text (every `{{ value }}` of a template, and instance tables)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from typing import Any

from sqlsentinel.jsonsafe import dumps, to_jsonable


def show(value: Any) -> Any:
    """A query value as message text; strings (and markup) pass through unchanged."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple | set):
        return dumps(value)
    if isinstance(value, bytes | bytearray | memoryview | date | time):
        return str(to_jsonable(value))
    return str(value)
