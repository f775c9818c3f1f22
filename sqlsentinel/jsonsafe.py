"""Turn query values (Decimal, dates, bytes, UUIDs, ...) into JSON-safe values."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Convert one value recursively.

    Decimal becomes an int when integral and a float otherwise (a string when it
    would lose precision or is not finite); datetimes become ISO-8601 strings
    (naive ones are left without an offset); bytes become base64 text.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)  # UUIDs, IP addresses, ...: their canonical text
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)  # UUIDs, IP addresses, ...: their canonical text


def dumps(value: Any) -> str:
    """Compact, deterministic JSON of any query-derived value."""
    return json.dumps(to_jsonable(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
