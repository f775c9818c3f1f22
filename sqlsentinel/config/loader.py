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

from pydantic import BaseModel, ValidationError

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
        got = _KINDS.get(type(parsed.data).__name__, "a single value")
        if parsed.data is None:
            got = "an empty file"
        message = f"the top level must be a mapping with database: and alerts:, not {got}"
        raise ConfigError([*parsed.problems, Problem(source, 1, "", message)])
    env_used = substitute(parsed, environ, source)
    early = len(parsed.problems)
    validated = _validate(parsed, source)
    warnings: list[Problem] = []
    settings, alerts = _compile(validated, parsed, source, environ, env_used, warnings)
    if parsed.problems:
        raise ConfigError(_tidy(parsed.problems, early))
    return LoadedConfig(settings, tuple(alerts), tuple(warnings), frozenset(env_used))


_KINDS = {
    "list": "a list",
    "str": "text",
    "int": "a number",
    "float": "a number",
    "bool": "a boolean",
}


def _tidy(problems: list[Problem], early: int) -> list[Problem]:
    """Problems in line order, without repeats and without follow-ups of the first `early`
    (YAML and `${VAR}` problems: a value left unsubstituted fails validation too)."""
    first = {(p.line, p.path) for p in problems[:early]}
    kept = problems[:early] + [
        p for p in problems[early:] if (p.line, p.path.split(" (alert ")[0]) not in first
    ]
    out: list[Problem] = []
    for p in sorted(kept, key=lambda p: (p.line or 0, p.path)):
        if p not in out:
            out.append(p)
    return out


# ---------------------------------------------------------------- validation


@dataclass
class _Validated:
    """The valid part of a config: alerts keep their index in the file."""

    model: m.ConfigModel
    index: list[int]
    bad_keys: set[str]
    loose: list[tuple[int, str, str | None]] = field(default_factory=list)
    """(index, schedule, timezone) of invalid alerts whose schedule can still be checked."""


_STAND_IN = {"name": "-", "query": "-", "schedule": "* * * * *"}


def _validate(parsed: Parsed, source: str) -> _Validated | None:
    data: dict[str, Any] = dict(parsed.data)
    defaults = data.get("defaults")
    if isinstance(defaults, dict):
        data.pop("defaults")
        try:
            m.DefaultsModel.model_validate(defaults)
        except ValidationError as exc:
            _report(exc, ("defaults",), parsed, source)
            bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
            defaults = {k: v for k, v in defaults.items() if k not in bad}
        alerts = data.get("alerts")
        if isinstance(alerts, list):
            data["alerts"] = [{**defaults, **a} if isinstance(a, dict) else a for a in alerts]
            _inherit_lines(parsed, defaults, alerts)
    try:
        model = m.ConfigModel.model_validate(data)
        return _Validated(model, list(range(len(model.alerts))), set())
    except ValidationError as exc:
        _report(exc, (), parsed, source)
        errors = exc.errors()
    # Keep checking what is valid (schedules, databases) so every problem shows at once.
    locs = [tuple(e["loc"]) for e in errors]
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or ("alerts",) in locs:
        return None
    bad_alerts = {loc[1] for loc in locs if loc[0] == "alerts" and len(loc) > 1}
    bad_keys = {str(loc[0]) for loc in locs if loc and loc[0] != "alerts"}
    index = [i for i in range(len(alerts)) if i not in bad_alerts]
    data = {k: v for k, v in data.items() if k not in bad_keys}
    data["alerts"] = [alerts[i] for i in index] or [_STAND_IN]
    loose: list[tuple[int, str, str | None]] = []
    for i in sorted(x for x in bad_alerts if isinstance(x, int)):
        a = alerts[i] if i < len(alerts) else None
        fine = not any(
            loc[:3] in {("alerts", i, "schedule"), ("alerts", i, "timezone")} for loc in locs
        )
        if isinstance(a, dict) and isinstance(a.get("schedule"), str) and fine:
            zone = a.get("timezone")
            loose.append((i, a["schedule"], zone if isinstance(zone, str) else None))
    try:
        model = m.ConfigModel.model_validate(data)
    except ValidationError:
        return None
    if not index:
        model = model.model_copy(update={"alerts": []})
    return _Validated(model, index, bad_keys, loose)


def _inherit_lines(parsed: Parsed, defaults: dict[str, Any], alerts: list[Any]) -> None:
    """Point an alert's inherited keys at their line under `defaults:`."""
    inherited = [(p, line) for p, line in parsed.lines.items() if p[:1] == ("defaults",)]
    for i, a in enumerate(alerts):
        if isinstance(a, dict):
            for path, line in inherited:
                if len(path) > 1 and path[1] not in a:
                    parsed.lines[("alerts", i, *path[1:])] = line


_CHANNEL_TAGS = ("email", "slack", "webhook")


def _report(exc: ValidationError, prefix: Path, parsed: Parsed, source: str) -> None:
    errors = [
        (err, _clean_loc(prefix + tuple(err["loc"]), parsed.data))
        for err in exc.errors(include_url=False)
    ]
    # A misspelt key is reported once, as unknown with a did-you-mean, not also as missing.
    suggested = {
        (loc[:-1], hint)
        for err, loc in errors
        if err["type"] == "extra_forbidden"
        for hint in _close_key(str(loc[-1]), _known_keys(loc, parsed.data))
    }
    for err, loc in errors:
        if err["type"] == "missing" and (loc[:-1], loc[-1]) in suggested:
            continue
        if err["type"] == "union_tag_invalid":
            loc = (*loc, "channel")
        parsed.problems.append(
            Problem(
                source,
                parsed.line_of(loc),
                format_path(loc) + _alert_label(loc, parsed.data),
                _message(err, loc, parsed.data),
            )
        )


def _close_key(key: str, known: list[str]) -> list[str]:
    return difflib.get_close_matches(key, known, n=1, cutoff=0.6)


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
            if isinstance(name, str) and name.strip() and name.isprintable():
                return f" (alert {name.strip()!r})"
    return ""


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _known_keys(loc: Path, data: Any) -> list[str]:
    parent = loc[:-1]
    shape = tuple("#" if isinstance(p, int) else p for p in parent)
    if shape in {("alerts", "#", "notify", "#"), ("defaults", "notify", "#")}:
        node = data
        for p in parent:
            node = node[p]
        tag = node.get("channel") if isinstance(node, dict) else None
        by_tag: dict[Any, type[BaseModel]] = {
            "email": m.EmailModel,
            "slack": m.SlackModel,
            "webhook": m.WebhookModel,
        }
        return _keys_of(by_tag.get(tag, m.WebhookModel))
    table: dict[tuple[Any, ...], type[BaseModel]] = {
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
        close = _close_key(key, known)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else (f"; known keys: {', '.join(sorted(known))}" if known else "")
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
    if kind in {"too_short", "string_too_short"}:
        return "must not be empty"
    if kind in {"bool_type", "bool_parsing"}:
        return f"must be true or false, not {_shown(value)}"
    if kind == "list_type" and loc and loc[-1] in {"tags", "recipients"}:
        return f"must be text or a list of text, not {_shown(value)}"
    if kind == "list_type":
        return f"must be a list (one '- ' line per entry), not {_shown(value)}"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"must be a mapping (key: value lines), not {_shown(value)}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"must be a whole number, not {_shown(value)}"
    if kind in {"float_type", "float_parsing"}:
        return f"must be a number, not {_shown(value)}"
    if kind == "string_type":
        quote = " (put it in quotes)" if isinstance(value, int | float) else ""
        return f"must be text, not {_shown(value)}{quote}"
    if kind in {"value_error", "assertion_error"}:
        return str(msg).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    text = str(msg).replace("Input should be", "must be")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "literal_error":
        text += f", not {_shown(value)}"
    return text


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else repr(value)


# ---------------------------------------------------------------- compile


def _compile(
    validated: _Validated | None,
    parsed: Parsed,
    source: str,
    environ: Mapping[str, str],
    env_used: set[str],
    warnings: list[Problem],
) -> tuple[Settings, list[AlertSpec]]:
    if validated is None:
        return Settings(source=source), []
    model, bad_keys = validated.model, validated.bad_keys
    base = FsPath(source).resolve().parent
    problems = parsed.problems

    def problem(path: Path, message: str) -> None:
        problems.append(
            Problem(
                source,
                parsed.line_of(path),
                format_path(path) + _alert_label(path, parsed.data),
                message,
            )
        )

    databases = {
        name: DatabaseSpec(_sqlite_relative(d.url, base), d.read_only, name)
        for name, d in model.databases.items()
    }
    default_db = (
        DatabaseSpec(_sqlite_relative(model.database.url, base), model.database.read_only)
        if model.database
        else None
    )
    wants_email = any(isinstance(t, m.EmailModel) for a in model.alerts for t in (a.notify or ()))
    smtp = _smtp(model.smtp, environ, env_used, problem) if wants_email or model.smtp else None
    _duplicate_names(parsed.data.get("alerts"), problem, parsed)
    for i, schedule, zone in validated.loose:
        _check_schedule(schedule, zone, ("alerts", i), problem, [], parsed, source)
    alerts: list[AlertSpec] = []
    for i, a in zip(validated.index, model.alerts, strict=True):
        path: Path = ("alerts", i)
        if a.database is not None:
            db = databases.get(a.database)
            if db is None and "databases" not in bad_keys:
                known = ", ".join(sorted(databases)) or "none defined under databases:"
                problem((*path, "database"), f"unknown database {a.database!r} (known: {known})")
        else:
            db = default_db
            if db is None and not bad_keys & {"database", "databases"}:
                problem(path, "no database: set database.url at the top, or database: NAME here")
        _check_schedule(a.schedule, a.timezone, path, problem, warnings, parsed, source)
        targets = tuple(_target(t) for t in a.notify or ())
        email = [j for j, t in enumerate(targets) if isinstance(t, EmailTarget)]
        if smtp is None and email and "smtp" not in bad_keys:
            problem(
                (*path, "notify", email[0]),
                "email needs SMTP settings: add an smtp: block (with host:) or set SMTP_HOST",
            )
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
    from sqlsentinel.schedule.unit_names import check_unit_names

    for first, second in check_unit_names([a.name for a in model.alerts]):
        index = next(i for i, a in enumerate(model.alerts) if a.name == second)
        problem(
            ("alerts", index, "name"),
            f"alert names {first!r} and {second!r} map to the same systemd unit name; rename one",
        )
    settings = Settings(
        source=source,
        state_db=_sqlite_relative(model.state_db, base) if model.state_db else None,
        history_retention=model.history_retention or None,
        smtp=smtp,
        alert_names=tuple(a.name for a in alerts),
    )
    return settings, alerts


def _duplicate_names(alerts: Any, problem: Any, parsed: Parsed) -> None:
    """Report every alert whose name an earlier alert already uses."""
    seen: dict[str, int] = {}
    for i, a in enumerate(alerts if isinstance(alerts, list) else []):
        name = a.get("name") if isinstance(a, dict) else None
        if not isinstance(name, str) or not name.strip():
            continue
        key = name.strip()
        if key in seen:
            first = seen[key]
            line = parsed.lines.get(("alerts", first, "name"))
            where = f"alerts[{first}]" + (f" on line {line}" if line else "")
            problem(("alerts", i, "name"), f"duplicate alert name {key!r} (first used by {where})")
        seen.setdefault(key, i)


def _check_schedule(
    schedule: str,
    timezone: str | None,
    path: Path,
    problem: Any,
    warnings: list[Problem],
    parsed: Parsed,
    source: str,
) -> None:
    from sqlsentinel.schedule.translate import ScheduleError, translate

    where = (*path, "schedule")
    try:
        translation = translate(schedule, timezone)
    except ScheduleError as exc:
        problem(where, str(exc))
        return
    label = format_path(where) + _alert_label(where, parsed.data)
    for w in translation.warnings:
        warnings.append(Problem(source, parsed.line_of(where), label, w))


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
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_FROM_ADDRESS",
    "SMTP_FROM",
    "SMTP_USE_TLS",
    "SMTP_USE_SSL",
    "SMTP_TIMEOUT",
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
