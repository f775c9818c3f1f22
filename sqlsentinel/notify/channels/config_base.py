"""What every channel's config model shares (pydantic; imported only while validating)."""

from __future__ import annotations

from pydantic import PositiveInt, field_validator

from sqlsentinel.model_fields import OptionalDuration, StrictModel, positive


def check_template(v: str | None) -> str | None:
    """Reject a message template that does not compile."""
    if v is None:
        return v
    from sqlsentinel.notify.templates import check_template as check

    error = check(v)
    if error:
        raise ValueError(error)
    return v


def check_http_url(v: str) -> str:
    """Accept only http(s) URLs."""
    if not v.startswith(("https://", "http://")):
        raise ValueError(f"must be an http(s) URL, not {v!r}")
    return v


class TargetModel(StrictModel):
    """The keys every `notify:` entry takes besides its channel's own."""

    timeout: OptionalDuration = None
    max_attempts: PositiveInt | None = None

    _t = field_validator("timeout")(positive)
