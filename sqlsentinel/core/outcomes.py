"""The named outcomes of a run's query, and what each means for the alert.

The query contract (docs/configuration.md): one row with a `status` of ALERT or OK, or
with `key:` one row per instance. Every way a check can end is one of these names, never
an exception.
"""

from __future__ import annotations

from sqlsentinel.core.spec import AlertSpec

OK = "ok"
ALERT = "alert"
NO_DATA = "no_data"
CONFIG_ERROR = "config_error"  # the alert's own settings are broken: it did not run at all
ERROR_OUTCOMES = frozenset(
    {
        CONFIG_ERROR,
        "multiple_rows",
        "missing_status",
        "invalid_status",
        "bad_severity",  # the result's severity column names no severity (core/severity.py)
        "timeout",
        "query_error",
        "connection_error",
        # keyed alerts (engine/keyed_query.py): the whole result is refused
        "missing_key",
        "null_key",
        "duplicate_key",
        "too_many_instances",
    }
)
ALL_OUTCOMES = frozenset({OK, ALERT, NO_DATA}) | ERROR_OUTCOMES


def condition_for(outcome: str, alert: AlertSpec) -> str:
    """Map an outcome through the alert's `on_no_data` / `on_error` choices.

    The result is `ok`, `alert`, `error` or `keep` (the state stays as it is).
    """
    if outcome in {OK, ALERT}:
        return outcome
    if outcome == NO_DATA:
        return alert.on_no_data
    assert outcome in ERROR_OUTCOMES, outcome
    return alert.on_error


def check_failed(outcome: str, alert: AlertSpec) -> bool:
    """True when the check itself did not work (the run then exits non-zero)."""
    return outcome in ERROR_OUTCOMES or (outcome == NO_DATA and alert.on_no_data == "error")
