"""What a query outcome means for the alert: `ok`, `alert`, `error` or `keep` (the state stays)."""

from __future__ import annotations

from sqlsentinel.config.spec import AlertSpec
from sqlsentinel.engine.query import ERROR_OUTCOMES


def condition_for(outcome: str, alert: AlertSpec) -> str:
    """Map an outcome through the alert's `on_no_data` / `on_error` choices."""
    if outcome in {"ok", "alert"}:
        return outcome
    if outcome == "no_data":
        return alert.on_no_data
    assert outcome in ERROR_OUTCOMES, outcome
    return alert.on_error


def check_failed(outcome: str, alert: AlertSpec) -> bool:
    """True when the check itself did not work (the run then exits non-zero)."""
    return outcome in ERROR_OUTCOMES or (outcome == "no_data" and alert.on_no_data == "error")
