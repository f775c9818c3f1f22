"""pydantic building blocks shared by the config models and the channel models.

Imported only while validating a config (never by a warm `sqlsentinel run`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

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
