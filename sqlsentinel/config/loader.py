"""Load a config: YAML text -> substituted data -> validated models -> runtime specs.

`load_text` does the work on text; `load_file` is the thin wrapper that reads a
file. Every problem is collected before a single `ConfigError` is raised.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from sqlsentinel.config import models as m
from sqlsentinel.config.envsubst import substitute
from sqlsentinel.config.spec import (
    AlertSpec,
    DatabaseSpec,
    EmailTarget,
    NotifyTarget,
    Settings,
    SlackTarget,
    SmtpSpec,
    WebhookTarget,
)
from sqlsentinel.config.yamlsource import Parsed, Path, format_path, parse_yaml
from sqlsentinel.errors import ConfigError, Problem


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config: settings, every alert, warnings and the env vars it read."""

    settings: Settings
    alerts: tuple[AlertSpec, ...]
    warnings: tuple[Problem, ...] = ()
    env_used: frozenset[str] = field(default_factory=frozenset)

    def alert(self, name: str) -> AlertSpec | None:
        """The alert called `name`, if any."""
        return next((a for a in self.alerts if a.name == name), None)


def load_file(path: str, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read and validate the config file at `path`."""
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(path, None, "", "config file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([Problem(path, None, "", f"cannot read config file: {reason}")]) from None
    return load_text(text, path, os.environ if environ is None else environ)


def load_text(text: str, source: str, environ: Mapping[str, str]) -> LoadedConfig:
    """Validate config `text`; `source` names it in messages and anchors relative paths."""
    parsed = parse_yaml(text, source)
    if parsed.problems and parsed.data is None:
        raise ConfigError(parsed.problems)
    if not isinstance(parsed.data, dict):
        got = "an empty file" if parsed.data is None else type(parsed.data).__name__
        raise ConfigError(
            [*parsed.problems, Problem(source, 1, "", f"expected a mapping with 'alerts:', got {got}")]
        )
    env_used = substitute(parsed, environ, source)
    model = _validate(parsed, source)
    warnings: list[Problem] = []
    settings, alerts = _compile(model, parsed, source, environ, env_used, warnings)
    if parsed.problems:
        raise ConfigError(sorted(parsed.problems, key=lambda p: (p.line or 0, p.path)))
    return LoadedConfig(settings, tuple(alerts), tuple(warnings), frozenset(env_used))


# ---------------------------------------------------------------- validation


def _validate(parsed: Parsed, source: str) -> m.ConfigModel | None:
    data: dict[str, Any] = dict(parsed.data)
    defaults = data.get("defaults")
    if isinstance(defaults, dict):
        try:
            m.DefaultsModel.model_validate(defaults)
        except ValidationError as exc:
            _report(exc, ("defaults",), parsed, source)
            defaults = None
        alerts = data.get("alerts")
        if defaults is not None and isinstance(alerts, list):
            data["alerts"] = [
                {**defaults, **a} if isinstance(a, dict) else a for a in alerts
            ]
            _inherit_lines(parsed, defaults, alerts)
    try:
        return m.ConfigModel.model_validate(data)
    except ValidationError as exc:
        _report(exc, (), parsed, source)
        return None


def _inherit_lines(parsed: Parsed, defaults: dict[str, Any], alerts: list[Any]) -> None:
    """Point an alert's inherited keys at their line under `defaults:`."""
    for i, a in enumerate(alerts):
        if isinstance(a, dict):
            for key in defaults.keys() - a.keys():
                line = parsed.lines.get(("defaults", key))
                if line is not None:
                    parsed.lines[("alerts", i, key)] = line


_CHANNEL_TAGS = ("email", "slack", "webhook")


def _report(exc: ValidationError, prefix: Path, parsed: Parsed, source: str) -> None:
    for err in exc.errors(include_url=False):
        loc = _clean_loc(prefix + tuple(err["loc"]), parsed.data)
        parsed.problems.append(
            Problem(source, parsed.line_of(loc), format_path(loc) + _alert_label(loc, parsed.data),
                    _message(err, loc, parsed.data))
        )


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Path:
    """Drop pydantic's union-tag elements so the path matches the file."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and part in _CHANNEL_TAGS:
            continue
        if isinstance(part, str) and part.startswith(("function-", "list[", "dict[")):
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part) if isinstance(part, str) else None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _alert_label(loc: Path, data: Any) -> str:
    if len(loc) >= 2 and loc[0] == "alerts" and isinstance(loc[1], int):
        alerts = data.get("alerts") if isinstance(data, dict) else None
        if isinstance(alerts, list) and loc[1] < len(alerts) and isinstance(alerts[loc[1]], dict):
            name = alerts[loc[1]].get("name")
            if isinstance(name, str):
                return f" (alert {name!r})"
    return ""


def _keys_of(model: type[m.BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _known_keys(loc: Path, data: Any) -> list[str]:
    parent = loc[:-1]
    shape = tuple("#" if isinstance(p, int) else p for p in parent)
    if shape in {("alerts", "#", "notify", "#"), ("defaults", "notify", "#")}:
        node = data
        for p in parent:
            node = node[p]
        model = {"email": m.EmailModel, "slack": m.SlackModel, "webhook": m.WebhookModel}.get(
            node.get("channel") if isinstance(node, dict) else "", m.WebhookModel
        )
        return _keys_of(model)
    table: dict[tuple[Any, ...], type[m.BaseModel]] = {
        (): m.ConfigModel,
        ("alerts", "#"): m.AlertModel,
        ("defaults",): m.DefaultsModel,
        ("database",): m.DatabaseModel,
        ("smtp",): m.SmtpModel,
    }
    if len(shape) == 2 and shape[0] == "databases":
        return _keys_of(m.DatabaseModel)
    model = table.get(shape)
    return _keys_of(model) if model else []


def _message(err: Any, loc: Path, data: Any) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = _known_keys(loc, data)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else (
            f"; known keys: {', '.join(sorted(known))}" if known else ""
        )
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return f"missing required key {str(loc[-1])!r}"
    if kind == "union_tag_invalid":
        return f"unknown channel {err['ctx']['tag']!r}; expected one of email, slack, webhook"
    if kind == "union_tag_not_found":
        return "missing 'channel' (email, slack or webhook)"
    if kind == "too_short" and loc == ("alerts",):
        return "needs at least one alert"
    if kind in {"value_error", "assertion_error"}:
        return str(msg).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    text = str(msg).replace("Input should be", "must be")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "literal_error":
        text += f", not {value!r}"
    return text


# ---------------------------------------------------------------- compile


def _compile(
    model: m.ConfigModel | None,
    parsed: Parsed,
    source: str,
    environ: Mapping[str, str],
    env_used: set[str],
    warnings: list[Problem],
) -> tuple[Settings, list[AlertSpec]]:
    if model is None:
        return Settings(source=source), []
    base = FsPath(source).resolve().parent
    problems = parsed.problems

    def problem(path: Path, message: str) -> None:
        problems.append(Problem(source, parsed.line_of(path),
                                format_path(path) + _alert_label(path, parsed.data), message))

    databases = {
        name: DatabaseSpec(_sqlite_relative(d.url, base), d.read_only, name)
        for name, d in model.databases.items()
    }
    default_db = (
        DatabaseSpec(_sqlite_relative(model.database.url, base), model.database.read_only)
        if model.database
        else None
    )
    wants_email = any(
        isinstance(t, m.EmailModel) for a in model.alerts for t in (a.notify or ())
    )
    smtp = _smtp(model.smtp, environ, env_used, problem) if wants_email or model.smtp else None
    seen: dict[str, int] = {}
    alerts: list[AlertSpec] = []
    for i, a in enumerate(model.alerts):
        path: Path = ("alerts", i)
        if a.name in seen:
            problem((*path, "name"), f"duplicate alert name {a.name!r} (also alerts[{seen[a.name]}])")
        seen.setdefault(a.name, i)
        if a.database is not None:
            db = databases.get(a.database)
            if db is None:
                known = ", ".join(sorted(databases)) or "none defined under databases:"
                problem((*path, "database"), f"unknown database {a.database!r} (known: {known})")
        else:
            db = default_db
            if db is None:
                problem(path, "no database: set database.url at the top, or database: NAME here")
        _check_schedule(a, path, problem, warnings, source, parsed)
        targets = tuple(_target(t) for t in a.notify or ())
        if smtp is None and any(isinstance(t, EmailTarget) for t in targets):
            problem((*path, "notify"), "email needs SMTP settings: add an smtp: block or set SMTP_HOST")
        if db is None:
            continue
        alerts.append(
            AlertSpec(
                name=a.name,
                query=a.query,
                schedule=a.schedule,
                database=db,
                description=a.description,
                enabled=True if a.enabled is None else a.enabled,
                timezone=a.timezone,
                timeout=30.0 if a.timeout is None else a.timeout,
                for_=a.for_ or 0.0,
                repeat_interval=a.repeat_interval or None,
                notify_on_resolve=True if a.notify_on_resolve is None else a.notify_on_resolve,
                notify_on_error=True if a.notify_on_error is None else a.notify_on_error,
                on_error=a.on_error or "error",
                on_no_data=a.on_no_data or "error",
                notify=targets,
                tags=tuple(a.tags or ()),
                persistent=True if a.persistent is None else a.persistent,
                line=parsed.lines.get(path),
            )
        )
    settings = Settings(
        source=source,
        state_db=_sqlite_relative(model.state_db, base) if model.state_db else None,
        history_retention=model.history_retention or None,
        smtp=smtp,
        alert_names=tuple(a.name for a in alerts),
    )
    return settings, alerts


def _check_schedule(
    a: m.AlertModel,
    path: Path,
    problem: Any,
    warnings: list[Problem],
    source: str,
    parsed: Parsed,
) -> None:
    from sqlsentinel.schedule.translate import ScheduleError, translate

    where = (*path, "schedule")
    try:
        translation = translate(a.schedule, a.timezone)
    except ScheduleError as exc:
        problem(where, str(exc))
        return
    for w in translation.warnings:
        warnings.append(
            Problem(source, parsed.line_of(where), format_path(where) + f" (alert {a.name!r})", w)
        )


def _sqlite_relative(url: str, base: FsPath) -> str:
    """Anchor a relative SQLite path (or a bare file path) at the config file's folder."""
    if "://" not in url:
        return f"sqlite:///{(base / url).resolve()}"
    prefix, sep, rest = url.partition(":///")
    if prefix.startswith("sqlite") and sep and rest and not rest.startswith(("/", ":memory:")):
        return f"{prefix}:///{(base / rest).resolve()}"
    return url


def _target(t: m.EmailModel | m.SlackModel | m.WebhookModel) -> NotifyTarget:
    if isinstance(t, m.EmailModel):
        return EmailTarget(tuple(t.recipients), t.subject, t.body, t.timeout, t.max_attempts)
    if isinstance(t, m.SlackModel):
        url = t.webhook_url or t.webhook or ""
        return SlackTarget(url, t.slack_channel, t.username, t.body, t.timeout, t.max_attempts)
    return WebhookTarget(
        t.url, t.method, tuple(t.headers.items()), t.secret, t.timeout, t.max_attempts
    )


SMTP_ENV_NAMES = (
    "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_USER", "SMTP_PASSWORD",
    "SMTP_FROM_ADDRESS", "SMTP_FROM", "SMTP_USE_TLS", "SMTP_USE_SSL", "SMTP_TIMEOUT",
)


def _smtp(
    block: m.SmtpModel | None,
    environ: Mapping[str, str],
    env_used: set[str],
    problem: Any,
) -> SmtpSpec | None:
    if block is not None:
        return SmtpSpec(
            host=block.host,
            port=block.port,
            username=block.username,
            password=block.password,
            from_address=block.from_address,
            starttls=block.use_tls and not block.ssl,
            ssl=block.ssl,
            timeout=block.timeout,
        )
    from sqlsentinel.notify.smtp_env import SmtpEnvError, smtp_from_env

    env_used.update(SMTP_ENV_NAMES)
    try:
        return smtp_from_env(environ)
    except SmtpEnvError as exc:
        problem((), f"SMTP settings from the environment: {exc}")
        return None
