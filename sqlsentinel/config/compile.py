"""Turn validated models into runtime specs, with the checks that span alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from sqlsentinel.config import models as m
from sqlsentinel.config.messages import alert_label
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
from sqlsentinel.config.yamlsource import Parsed, Path, format_path
from sqlsentinel.dburl import sqlite_relative
from sqlsentinel.errors import Problem


@dataclass
class Validated:
    """The valid part of a config: alerts keep their index in the file."""

    model: m.ConfigModel
    index: list[int]
    bad_keys: set[str]
    loose: list[tuple[int, str, str | None]] = field(default_factory=list)
    """(index, schedule, timezone) of invalid alerts whose schedule can still be checked."""


def compile_config(
    validated: Validated | None,
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
                format_path(path) + alert_label(path, parsed.data),
                message,
            )
        )

    databases = {
        name: DatabaseSpec(sqlite_relative(d.url, base), d.read_only, name)
        for name, d in model.databases.items()
    }
    default_db = (
        DatabaseSpec(sqlite_relative(model.database.url, base), model.database.read_only)
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
        state_db=sqlite_relative(model.state_db, base) if model.state_db else None,
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
    label = format_path(where) + alert_label(where, parsed.data)
    for w in translation.warnings:
        warnings.append(Problem(source, parsed.line_of(where), label, w))


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
