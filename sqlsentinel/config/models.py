"""The config file's schema (pydantic v2). Each rule lives on the model it concerns.

These models are used by `validate`, `install-units` and a cold `run`; the hot
path works from the compiled `spec` dataclasses instead.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, Discriminator, Field, Tag, field_validator

from sqlsentinel.core.route import parse_severity_match
from sqlsentinel.core.severity import SeverityName
from sqlsentinel.core.spec import OnOutcome
from sqlsentinel.model_fields import (
    OptionalDuration,
    Port,
    StrictModel,
    has_control,
    listify,
    one_word,
    positive,
)
from sqlsentinel.notify.channels import config_models
from sqlsentinel.notify.channels.email import address_problem
from sqlsentinel.sqltext import extra_statement

# The grammar of sqlalchemy.engine.make_url (which uses `re.match`, so anything after the
# host part is accepted), checked without importing SQLAlchemy: `validate` stays fast.
_SQLALCHEMY_URL = re.compile(
    r"[\w+]+://(?:[^:/]*(?::[^@]*)?@)?(?:(?:\[[^/?]+\]|[^/:?]+)?(?::(?P<port>[^/?]*))?)?"
)


class DatabaseModel(StrictModel):
    """`database:` or one entry of `databases:`."""

    url: str = Field(min_length=1)
    read_only: bool | None = None

    @field_validator("url")
    @classmethod
    def _parse_url(cls, v: str) -> str:
        m = _SQLALCHEMY_URL.match(v)
        if m is None:
            raise ValueError(
                "not a valid SQLAlchemy database URL; write it like "
                "postgresql://user:password@host/dbname or sqlite:///path/to/file.db"
            )
        port = m["port"]
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f"the port in the database URL must be 1-65535, not {port!r}")
        if has_control(v) or any(c.isspace() for c in v):
            raise ValueError("the database URL must not contain spaces or control characters")
        return v


if TYPE_CHECKING:
    NotifyModel = BaseModel
else:  # one member per registered channel, told apart by `channel:`
    NotifyModel = Annotated[Union[tuple(config_models())], Field(discriminator="channel")]  # noqa: UP007


def _entry_kind(v: object) -> str:
    return ENTRY_TAGS[0] if isinstance(v, str) else ENTRY_TAGS[1]


ENTRY_TAGS = ("receiver-name", "target")
"""The tags of a `notify:` entry's two forms (dropped from error paths by config/messages)."""
ReceiverName = Annotated[str, Field(min_length=1)]
if TYPE_CHECKING:
    NotifyEntry = BaseModel | str
else:  # a bare string names a receiver; a mapping is an inline target
    NotifyEntry = Annotated[
        Annotated[ReceiverName, Tag(ENTRY_TAGS[0])] | Annotated[NotifyModel, Tag(ENTRY_TAGS[1])],
        Discriminator(_entry_kind),
    ]


class SmtpModel(StrictModel):
    """`smtp:` (otherwise the SMTP_* environment variables are used)."""

    host: str = Field(min_length=1)
    port: Port | None = None
    username: str | None = None
    password: str | None = None
    from_address: str | None = None
    use_tls: bool | None = None
    ssl: bool | None = None
    timeout: OptionalDuration = None

    _t = field_validator("timeout")(positive)
    _host = field_validator("host")(one_word)

    @field_validator("from_address")
    @classmethod
    def _from(cls, v: str | None) -> str | None:
        problem = None if v is None else address_problem(v)
        if problem:
            raise ValueError(problem)
        return v


class _AlertSettings(StrictModel):
    """Fields an alert may take from `defaults:`."""

    enabled: bool | None = None
    schedule: str | None = None
    timezone: str | None = None
    timeout: OptionalDuration = None
    for_: OptionalDuration = Field(default=None, alias="for")
    repeat_interval: OptionalDuration = None
    notify_on_resolve: bool | None = None
    notify_on_error: bool | None = None
    severity: SeverityName | None = None
    notify_on_deescalate: bool | None = None
    on_error: OnOutcome | None = None
    on_no_data: OnOutcome | None = None
    notify: list[NotifyEntry] | None = None
    tags: Annotated[list[str], BeforeValidator(listify)] | None = None
    database: str | None = None
    persistent: bool | None = None
    jitter: OptionalDuration = None
    on_missing: Literal["resolve", "keep"] | None = None
    max_instances: int | None = Field(default=None, ge=1, le=100_000)
    stale_after: OptionalDuration = None
    heartbeat_url: str | None = None
    heartbeat_start: bool | None = None

    @field_validator("heartbeat_url")
    @classmethod
    def _heartbeat(cls, v: str | None) -> str | None:
        from sqlsentinel.notify.channels.config_base import check_http_url

        return None if v is None else check_http_url(v)

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
        return positive(v)

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
    key: Annotated[list[str], BeforeValidator(listify)] | None = None

    @field_validator("key")
    @classmethod
    def _key(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v or any(not c.strip() for c in v):
            raise ValueError("must name one or more result columns, e.g. [warehouse_id]")
        lowered = [c.strip().lower() for c in v]
        if len(set(lowered)) != len(lowered):
            raise ValueError("names a column twice")
        reserved = {"status", "actual_value", "threshold", "severity"} & set(lowered)
        if reserved:
            column = sorted(reserved)[0]
            raise ValueError(f"cannot use {column!r}: it is part of the result contract")
        return [c.strip() for c in v]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        if has_control(v):
            raise ValueError(
                "must not contain control characters (such as newlines, tabs, U+0085 or U+2028)"
            )
        return v.strip()

    @field_validator("query")
    @classmethod
    def _query(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        second = extra_statement(v)
        if second is not None:
            start = " ".join(v[second:].split())[:30]
            raise ValueError(
                f"must be one SQL statement, but a second one follows a `;` ({start!r}); "
                "the database runs exactly one (a read-only database role is the real guard)"
            )
        return v


_GLOB_HINT = "a glob such as 'billing-*' or 'db-?' ([...] must be closed)"


class MatchModel(StrictModel):
    """A `policy:` rule's `match`: every condition given must hold."""

    alert: str | None = None
    tags: Annotated[list[str], BeforeValidator(listify)] | None = None
    severity: str | None = None
    database: str | None = None
    key: dict[str, str | int | float | bool | None] | None = None

    @field_validator("alert")
    @classmethod
    def _glob(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.strip():
            raise ValueError(f"must not be empty; write {_GLOB_HINT}")
        opened = v.find("[")
        if opened >= 0 and v.find("]", opened + 2) < 0:
            raise ValueError(f"{v!r} has a '[' that is never closed; write {_GLOB_HINT}")
        return v

    @field_validator("severity")
    @classmethod
    def _severity(cls, v: str | None) -> str | None:
        if v is not None:
            parse_severity_match(v)
        return v


class PolicyRuleModel(StrictModel):
    """One entry of `policy:`."""

    match: MatchModel | None = None
    notify: Annotated[list[ReceiverName], BeforeValidator(listify)] = Field(min_length=1)
    repeat: OptionalDuration = None
    continue_: bool = Field(default=False, alias="continue")

    _r = field_validator("repeat")(positive)


class ConfigModel(StrictModel):
    """The whole file."""

    database: DatabaseModel | None = None
    databases: dict[str, DatabaseModel] = Field(default_factory=dict)
    state_db: str | None = None
    history_retention: OptionalDuration = None

    @field_validator("state_db")
    @classmethod
    def _state_backend(cls, v: str | None) -> str | None:
        if v is None or "://" not in v:
            return v  # a bare path is a SQLite file
        backend = v.split("://", 1)[0].split("+", 1)[0]
        if backend not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError(
                f"the state database must be SQLite or PostgreSQL, not {backend!r}; "
                "write sqlite:///path/state.db or postgresql://user@host/db"
            )
        return v

    smtp: SmtpModel | None = None
    defaults: DefaultsModel | None = None
    receivers: dict[str, Annotated[list[NotifyModel], Field(min_length=1)]] = Field(
        default_factory=dict
    )
    policy: list[PolicyRuleModel] = Field(default_factory=list)
    alerts: list[AlertModel] = Field(min_length=1)
