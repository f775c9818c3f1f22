"""pydantic building blocks shared by the config models and the channel models.

Imported only while validating a config (never by a warm `sqlsentinel run`).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from sqlsentinel.durations import parse_duration


def seconds(value: Any) -> float:
    """A duration (`90s`, `5m`, a number of seconds) as seconds; ValueError with a message."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration such as 90s, 5m, 4h or 1d, not {value!r}")
    if isinstance(value, str) and value.strip().startswith("-"):
        raise ValueError(f"a duration cannot be negative ({value!r})")
    return parse_duration(value).total_seconds()


Duration = Annotated[float, BeforeValidator(seconds)]
OptionalDuration = Annotated[
    float | None, BeforeValidator(lambda v: None if v is None else seconds(v))
]


CONTROL_CATEGORIES = ("Cc", "Zl", "Zp")
"""Control characters (C0, DEL, C1 such as U+0085 and U+009B) and the line and paragraph
separators U+2028/U+2029: what no name, address, header or unit file may contain."""


def has_control(text: str) -> bool:
    """True when `text` holds a character of CONTROL_CATEGORIES."""
    return any(unicodedata.category(c) in CONTROL_CATEGORIES for c in text)


def integer(value: Any) -> Any:
    """Refuse `true`/`false` where a number is expected (pydantic would read them as 1/0)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
        raise ValueError(f"must be a whole number, not {value!r}")
    return value


def port_number(value: int) -> int:
    """A TCP port: 1-65535."""
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a port number (1-65535), not {value}")
    return value


Port = Annotated[int, BeforeValidator(integer), AfterValidator(port_number)]
Count = Annotated[int, BeforeValidator(integer), Field(gt=0)]


def one_word(value: str) -> str:
    """Refuse text with spaces or control characters (a host name, a header name)."""
    if not value or has_control(value) or any(c.isspace() for c in value):
        raise ValueError(f"must be one word without spaces or control characters, not {value!r}")
    return value


def positive(v: float | None) -> float | None:
    """Reject zero and negative durations."""
    if v is not None and v <= 0:
        raise ValueError("must be more than 0 seconds")
    return v


def listify(value: Any) -> Any:
    """`x` -> `[x]` for fields that take text or a list of text."""
    return [value] if isinstance(value, str) else value


class StrictModel(BaseModel):
    """Unknown keys are errors; values are frozen."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
