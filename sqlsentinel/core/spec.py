"""The validated, runtime form of a config: plain frozen dataclasses, the one home of defaults.

Every default a config field has is the default of its field here; the config
models leave a field `None` when the file does not set it, and the converter
then takes the default from these classes. `sqlsentinel run` works from these
(read back from the compiled cache), so the hot path never imports pydantic.
Everything here round-trips through JSON (`alert_to_json`/`alert_from_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Literal

from sqlsentinel.core.severity import Severity

DEFAULT_ATTEMPT_TIMEOUT = 10.0  # seconds per delivery attempt (email: the SMTP timeout)

OnMissing = Literal["resolve", "keep"]
"""What happens to an instance of a keyed alert that a later result no longer has."""
STALE_GRACE_S = 60.0  # `stale_after` defaults to the alert's timeout plus this

OnOutcome = Literal["error", "alert", "ok", "keep"]
"""What a no-data or error outcome means for the alert's state."""


@dataclass(frozen=True)
class DatabaseSpec:
    """Where an alert's query runs."""

    url: str
    read_only: bool = True  # run queries in a read-only transaction where the driver supports it
    name: str = "default"


@dataclass(frozen=True)
class TargetSpec:
    """One `notify:` entry: its channel, and that channel's own settings.

    `options` is interpreted by the channel module named `channel` (the single home
    of that channel's fields); the core only knows what every target shares.
    """

    channel: str
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    timeout: float | None = (
        None  # seconds per attempt; None: DEFAULT_ATTEMPT_TIMEOUT (email: SMTP's)
    )
    max_attempts: int = 4  # attempts per target per run
    receiver: str = ""  # the `receivers:` entry it came from ("": the alert's inline target)


@dataclass(frozen=True)
class SeverityMatch:
    """A rule's `severity`: `critical` (exactly) or `>=warning` (that or louder)."""

    severity: Severity
    at_least: bool = False


@dataclass(frozen=True)
class RouteMatch:
    """A `policy:` rule's `match`: every condition given must hold (none: everything)."""

    alert: str | None = None  # a glob over the alert's name (fnmatch, case-sensitive)
    tags: tuple[str, ...] = ()  # the alert has all of them
    severity: SeverityMatch | None = None  # the run's (or the row's) severity
    database: str | None = None  # a name under `databases:` (`default`: `database:`)
    key: Mapping[str, str] = field(default_factory=dict, hash=False)  # key column -> text


@dataclass(frozen=True)
class RouteRule:
    """One entry of `policy:` (see core/route.py)."""

    match: RouteMatch
    receivers: tuple[str, ...]
    repeat: float | None = None  # seconds after the last delivery to a receiver; None: none
    continue_: bool = False  # try the next rules too
    line: int | None = None


@dataclass(frozen=True)
class SmtpSpec:
    """SMTP settings from the `smtp:` block or the SMTP_* environment variables."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    from_address: str = "sqlsentinel@localhost"
    starttls: bool = True  # `use_tls`: STARTTLS; false: plain
    ssl: bool = False  # implicit TLS (port 465)
    timeout: float = 10.0  # seconds per attempt


@dataclass(frozen=True)
class AlertSpec:
    """One alert, with defaults applied and every value validated."""

    name: str
    query: str
    schedule: str
    database: DatabaseSpec
    description: str | None = None
    enabled: bool = True
    timezone: str = "UTC"  # IANA name the schedule is read in
    timeout: float = 30.0  # seconds the query may run
    for_: float = 0.0  # seconds the condition must hold before firing
    repeat_interval: float | None = None  # seconds; None: notify once per firing
    notify_on_resolve: bool = True
    notify_on_error: bool = True
    severity: Severity = Severity.ERROR  # a `severity` column in the result overrides it
    notify_on_deescalate: bool = True  # a firing alert whose severity falls notifies
    on_error: OnOutcome = "error"
    on_no_data: OnOutcome = "error"
    notify: tuple[TargetSpec, ...] = ()  # inline targets, then every receiver's it may route to
    receivers: tuple[str, ...] = ()  # the receivers its own `notify:` names
    policy: tuple[RouteRule, ...] = ()  # the `policy:` rules that may match it, in order
    tags: tuple[str, ...] = ()
    persistent: bool = True  # systemd timer Persistent=: catch up a run missed while down
    jitter: float = 0.0  # seconds: each tick starts a fixed, per-alert offset in [0, jitter) late
    key: tuple[str, ...] = ()  # columns naming an instance: one state per row (empty: one row)
    on_missing: OnMissing = "resolve"  # an instance absent from a later result
    max_instances: int = 1000  # more rows than this is the outcome `too_many_instances`
    stale_after: float | None = None  # seconds past a missed tick; None: timeout + STALE_GRACE_S
    heartbeat_url: str | None = None  # pinged after each run (Healthchecks-style dead-man's switch)
    heartbeat_start: bool = False  # also ping `<heartbeat_url>/start` before the query
    calendar_zone: str = "UTC"  # derived: the zone the timer's lines are in (DST policy)
    minute_shift: int = 0  # derived: UTC minute = local minute - minute_shift (calendar UTC)
    line: int | None = None  # line of the alert in the config file (for messages)


@dataclass(frozen=True)
class Settings:
    """Config-wide settings a run needs besides its alert."""

    source: str  # the config file path as given
    state_db: str | None = None  # None: the default location (see state.location)
    history_retention: float | None = 90 * 86400.0  # seconds; None keeps history forever
    smtp: SmtpSpec | None = None
    alert_names: tuple[str, ...] = ()


def stale_grace(alert: AlertSpec) -> float:
    """Seconds after a scheduled tick without a run before `alert` counts as stale (missed)."""
    return alert.timeout + STALE_GRACE_S if alert.stale_after is None else alert.stale_after


def defaults_of(cls: type[Any]) -> dict[str, Any]:
    """The default of every field of a spec dataclass that has one (for docs and tests)."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
        elif f.default is not MISSING:
            out[f.name] = f.default
    return out


def given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a config actually set (None means 'not set': the spec default applies)."""
    return {k: v for k, v in values.items() if v is not None}


def alert_to_json(a: AlertSpec) -> dict[str, Any]:
    """Serialise an alert for the compiled cache."""
    return asdict(a)


def alert_from_json(d: dict[str, Any]) -> AlertSpec:
    """Inverse of `alert_to_json`."""
    data = dict(d)
    data["database"] = DatabaseSpec(**data["database"])
    data["notify"] = tuple(TargetSpec(**t) for t in data["notify"])
    data["tags"] = tuple(data["tags"])
    data["key"] = tuple(data.get("key") or ())
    if "severity" in data:
        data["severity"] = Severity(data["severity"])
    data["receivers"] = tuple(data.get("receivers") or ())
    data["policy"] = tuple(_rule_from_json(r) for r in data.get("policy") or ())
    return AlertSpec(**data)


def _rule_from_json(d: dict[str, Any]) -> RouteRule:
    m = dict(d["match"])
    sev = m.get("severity")
    m["severity"] = (
        None if sev is None else SeverityMatch(Severity(sev["severity"]), sev["at_least"])
    )
    m["tags"] = tuple(m["tags"])
    match = RouteMatch(**m)
    return RouteRule(**{**d, "match": match, "receivers": tuple(d["receivers"])})


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
