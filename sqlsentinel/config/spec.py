"""The validated, runtime form of a config: plain frozen dataclasses.

`sqlsentinel run` works from these (read back from the compiled cache) so the hot
path never imports pydantic or re-validates the whole file. Everything here is
JSON-serialisable through `to_json`/`from_json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

OnError = Literal["error", "alert", "ok", "keep"]
OnNoData = Literal["error", "alert", "ok", "keep"]


@dataclass(frozen=True)
class DatabaseSpec:
    """Where an alert's query runs."""

    url: str
    read_only: bool = True  # run queries in a read-only transaction where the driver supports it
    name: str = "default"


@dataclass(frozen=True)
class EmailTarget:
    """`channel: email`."""

    kind: ClassVar[str] = "email"
    recipients: tuple[str, ...]
    subject: str | None = None  # jinja2 template override
    body: str | None = None  # jinja2 template override (plain-text part; HTML part derived)
    timeout: float | None = None  # seconds per attempt
    max_attempts: int | None = None


@dataclass(frozen=True)
class SlackTarget:
    """`channel: slack` (incoming webhook)."""

    kind: ClassVar[str] = "slack"
    webhook_url: str
    channel: str | None = None  # Slack channel override, e.g. "#alerts"
    username: str | None = None
    body: str | None = None  # jinja2 template override of the message text (mrkdwn)
    timeout: float | None = None
    max_attempts: int | None = None


@dataclass(frozen=True)
class WebhookTarget:
    """`channel: webhook` (JSON built from data, never from a text template)."""

    kind: ClassVar[str] = "webhook"
    url: str
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    secret: str | None = None  # HMAC-SHA256 signing key
    timeout: float | None = None
    max_attempts: int | None = None


NotifyTarget = EmailTarget | SlackTarget | WebhookTarget
TARGET_TYPES: dict[str, type[EmailTarget] | type[SlackTarget] | type[WebhookTarget]] = {
    "email": EmailTarget,
    "slack": SlackTarget,
    "webhook": WebhookTarget,
}


@dataclass(frozen=True)
class SmtpSpec:
    """SMTP settings from the `smtp:` block or the SMTP_* environment variables."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    from_address: str = "sqlsentinel@localhost"
    starttls: bool = True  # SMTP_USE_TLS=true (default): STARTTLS; false: plain
    ssl: bool = False  # implicit TLS (port 465)
    timeout: float = 10.0


@dataclass(frozen=True)
class AlertSpec:
    """One alert, with defaults applied and every value validated."""

    name: str
    query: str
    schedule: str
    database: DatabaseSpec
    description: str | None = None
    enabled: bool = True
    timezone: str | None = None  # IANA name; None means UTC
    timeout: float = 30.0  # seconds
    for_: float = 0.0  # seconds the condition must hold before firing
    repeat_interval: float | None = None  # seconds; None: notify once per firing
    notify_on_resolve: bool = True
    notify_on_error: bool = True
    on_error: OnError = "error"
    on_no_data: OnNoData = "error"
    notify: tuple[NotifyTarget, ...] = ()
    tags: tuple[str, ...] = ()
    persistent: bool = False  # systemd timer Persistent= (catch up a run missed while down)
    line: int | None = None  # line of the alert in the config file (for messages)


@dataclass(frozen=True)
class Settings:
    """Config-wide settings a run needs besides its alert."""

    source: str  # the config file path as given
    state_db: str | None = None  # None: the default location (see state.location)
    history_retention: float | None = 90 * 86400.0  # seconds; None keeps history forever
    smtp: SmtpSpec | None = None
    alert_names: tuple[str, ...] = field(default=())


def target_to_json(t: NotifyTarget) -> dict[str, Any]:
    """Serialise one notification target, tagged with its channel."""
    return {"channel": t.kind, **asdict(t)}


def target_from_json(d: dict[str, Any]) -> NotifyTarget:
    """Inverse of `target_to_json`."""
    data = dict(d)
    cls = TARGET_TYPES[data.pop("channel")]
    for key in ("recipients", "headers"):
        if key in data:
            data[key] = tuple(tuple(x) if isinstance(x, list) else x for x in data[key])
    return cls(**data)


def alert_to_json(a: AlertSpec) -> dict[str, Any]:
    """Serialise an alert for the compiled cache."""
    d = asdict(a)
    d["notify"] = [target_to_json(t) for t in a.notify]
    return d


def alert_from_json(d: dict[str, Any]) -> AlertSpec:
    """Inverse of `alert_to_json`."""
    data = dict(d)
    data["database"] = DatabaseSpec(**data["database"])
    data["notify"] = tuple(target_from_json(t) for t in data["notify"])
    data["tags"] = tuple(data["tags"])
    return AlertSpec(**data)


def settings_to_json(s: Settings) -> dict[str, Any]:
    """Serialise settings for the compiled cache."""
    return asdict(s)


def settings_from_json(d: dict[str, Any]) -> Settings:
    """Inverse of `settings_to_json`."""
    data = dict(d)
    if data.get("smtp") is not None:
        data["smtp"] = SmtpSpec(**data["smtp"])
    data["alert_names"] = tuple(data["alert_names"])
    return Settings(**data)
