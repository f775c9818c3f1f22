"""The config file's schema (pydantic v2). Each rule lives on the model it concerns.

These models are used by `validate`, `install-units` and a cold `run`; the hot
path works from the compiled `spec` dataclasses instead.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    field_validator,
    model_validator,
)

from sqlsentinel.durations import parse_duration


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration such as 90s, 5m, 4h or 1d, not {value!r}")
    if isinstance(value, str) and value.strip().startswith("-"):
        raise ValueError(f"a duration cannot be negative ({value!r})")
    return parse_duration(value).total_seconds()


Duration = Annotated[float, BeforeValidator(_seconds)]
OptionalDuration = Annotated[
    float | None, BeforeValidator(lambda v: None if v is None else _seconds(v))
]


# The grammar of sqlalchemy.engine.make_url (which uses `re.match`, so anything after the
# host part is accepted), checked without importing SQLAlchemy: `validate` stays fast.
_SQLALCHEMY_URL = re.compile(
    r"[\w+]+://(?:[^:/]*(?::[^@]*)?@)?(?:(?:\[[^/?]+\]|[^/:?]+)?(?::(?P<port>[^/?]*))?)?"
)


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class DatabaseModel(_Model):
    """`database:` or one entry of `databases:`."""

    url: str = Field(min_length=1)
    read_only: bool = True

    @field_validator("url")
    @classmethod
    def _parse_url(cls, v: str) -> str:
        m = _SQLALCHEMY_URL.match(v)
        if m is None:
            raise ValueError(
                "not a valid SQLAlchemy database URL; write it like "
                "postgresql://user:password@host/dbname or sqlite:///path/to/file.db"
            )
        if m["port"] is not None and not m["port"].isdigit():
            raise ValueError(f"the port in the database URL must be a number, not {m['port']!r}")
        return v


def _timeout_ok(v: float | None) -> float | None:
    if v is not None and v <= 0:
        raise ValueError("must be more than 0 seconds")
    return v


class _TargetModel(_Model):
    timeout: OptionalDuration = None
    max_attempts: PositiveInt | None = None

    _t = field_validator("timeout")(_timeout_ok)


class EmailModel(_TargetModel):
    """`channel: email`."""

    channel: Literal["email"]
    recipients: Annotated[list[str], BeforeValidator(_listify)] = Field(min_length=1)
    subject: str | None = None
    body: str | None = None

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        from email.utils import parseaddr

        for addr in v:
            _, parsed = parseaddr(addr)
            if "@" not in parsed or parsed.startswith("@") or parsed.endswith("@"):
                raise ValueError(f"{addr!r} is not an email address")
        return v

    @field_validator("subject", "body")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return _check_template(v)


class SlackModel(_TargetModel):
    """`channel: slack`; `webhook` is the original SQL Sentinel's name for `webhook_url`."""

    channel: Literal["slack"]
    webhook_url: str | None = None
    webhook: str | None = None
    slack_channel: str | None = None
    username: str | None = None
    body: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> SlackModel:
        if self.webhook_url and self.webhook:
            raise ValueError("give either webhook_url or webhook, not both")
        url = self.webhook_url or self.webhook
        if not url:
            raise ValueError("a Slack notification needs webhook_url (the incoming-webhook URL)")
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"webhook_url must be an http(s) URL, not {url!r}")
        return self

    @field_validator("body")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return _check_template(v)


class WebhookModel(_TargetModel):
    """`channel: webhook`."""

    channel: Literal["webhook"]
    url: str
    method: str = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    secret: str | None = Field(default=None, min_length=1)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) URL, not {v!r}")
        return v

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        if v.upper() not in {"POST", "PUT", "PATCH", "GET"}:
            raise ValueError(f"{v!r} is not one of POST, PUT, PATCH, GET")
        return v.upper()


def _check_template(v: str | None) -> str | None:
    if v is None:
        return v
    from sqlsentinel.notify.templates import check_template

    error = check_template(v)
    if error:
        raise ValueError(error)
    return v


NotifyModel = Annotated[EmailModel | SlackModel | WebhookModel, Field(discriminator="channel")]
OnOutcome = Literal["error", "alert", "ok", "keep"]


class SmtpModel(_Model):
    """`smtp:` (otherwise the SMTP_* environment variables are used)."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    from_address: str = "sqlsentinel@localhost"
    use_tls: bool = True
    ssl: bool = False
    timeout: Duration = 10.0


class _AlertSettings(_Model):
    """Fields an alert may take from `defaults:`."""

    enabled: bool | None = None
    schedule: str | None = None
    timezone: str | None = None
    timeout: OptionalDuration = None
    for_: OptionalDuration = Field(default=None, alias="for")
    repeat_interval: OptionalDuration = None
    notify_on_resolve: bool | None = None
    notify_on_error: bool | None = None
    on_error: OnOutcome | None = None
    on_no_data: OnOutcome | None = None
    notify: list[NotifyModel] | None = None
    tags: Annotated[list[str], BeforeValidator(_listify)] | None = None
    database: str | None = None
    persistent: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None or v == "UTC":
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{v!r} is not an IANA time zone name (for example Europe/London or UTC)"
            ) from None
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float | None) -> float | None:
        if v is not None and v > 86400:
            raise ValueError("must be at most 24h: a check that runs longer is not a check")
        return _timeout_ok(v)

    @field_validator("schedule")
    @classmethod
    def _schedule_text(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty; write a cron expression such as '*/5 * * * *'")
        return v


class DefaultsModel(_AlertSettings):
    """`defaults:` applied to every alert that does not set the field itself."""


class AlertModel(_AlertSettings):
    """One entry of `alerts:`."""

    name: str = Field(min_length=1)
    description: str | None = None
    query: str = Field(min_length=1)
    schedule: str  # required here, optional in defaults

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        if any(ord(c) < 32 or ord(c) == 127 for c in v):
            raise ValueError("must not contain control characters (such as newlines or tabs)")
        return v.strip()

    @field_validator("query")
    @classmethod
    def _query(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v


class ConfigModel(_Model):
    """The whole file."""

    database: DatabaseModel | None = None
    databases: dict[str, DatabaseModel] = Field(default_factory=dict)
    state_db: str | None = None
    history_retention: OptionalDuration = 90 * 86400.0
    smtp: SmtpModel | None = None
    defaults: DefaultsModel | None = None
    alerts: list[AlertModel] = Field(min_length=1)
