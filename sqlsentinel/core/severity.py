"""How loud an alert is: four ordered severities (PagerDuty's), and reading one from a result.

An alert has a configured severity (`severity:`, default in core/spec.py); a query may
return a `severity` column that overrides it for that run, or for that row of a keyed
alert. A NULL there means "the alert's own"; any other value not named here is the
outcome `bad_severity`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Literal

SeverityName = Literal["info", "warning", "error", "critical"]
"""The names the config accepts (the same as `Severity`'s values)."""


class Severity(StrEnum):
    """An alert's severity, lowest first."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info up to 3 for critical."""
        return _RANK[self]


_ORDER = tuple(Severity)
_RANK = {s: i for i, s in enumerate(_ORDER)}
_VALUES = frozenset(s.value for s in _ORDER)
NAMES = ", ".join(s.value for s in _ORDER)


def highest(severities: Iterable[Severity], default: Severity) -> Severity:
    """The highest of `severities`, or `default` when there are none."""
    return max(severities, key=lambda s: s.rank, default=default)


def severity_from(value: Any) -> Severity | None:
    """The severity a result's `severity` cell names (any case, spaces around ignored);
    None for NULL. ValueError naming the value and the allowed ones for anything else."""
    if value is None:
        return None
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in _VALUES:
        raise ValueError(f"severity must be one of {NAMES}, got {value!r}")
    return Severity(text)


def stored_severity(value: Any) -> Severity | None:
    """A severity as the state database, the spool or a payload keeps it (None: none)."""
    return None if value is None else Severity(value)
