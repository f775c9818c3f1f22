"""Turn validated models into core specs, with the checks that span alerts.

A model field the file does not set is None; `given()` drops it, so the spec
dataclass's own default applies (core.spec is the one home of every default).
Each schedule is translated once here; the translation is kept for `validate`,
`install-units` and the daemon.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel

from sqlsentinel.config import models as m
from sqlsentinel.config.fallbacks import NO_FALLBACKS, Fallbacks
from sqlsentinel.config.parsed import Parsed, Path, alert_label, format_path
from sqlsentinel.config.routing import Receivers, Routes, alert_routes, compile_policy
from sqlsentinel.config.smtp_env import SMTP_ENV_NAMES, SmtpEnvError, smtp_from_env
from sqlsentinel.core.severity import Severity
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec, Settings, SmtpSpec, TargetSpec, given
from sqlsentinel.dburl import sqlite_readings, working_dir
from sqlsentinel.durations import format_duration
from sqlsentinel.errors import Problem
from sqlsentinel.schedule.jitter import TIMER_ACCURACY, max_jitter
from sqlsentinel.schedule.translate import ScheduleError, Translation, translate

_COMMON_TARGET_KEYS = frozenset({"channel", "timeout", "max_attempts"})
NO_SMTP = (
    "email needs SMTP settings, and SMTP_HOST is not set here: set it where the alert runs "
    "(its runs fail without it) or add an smtp: block (with host:)"
)


@dataclass
class Validated:
    """The valid part of a config: alerts keep their index in the file."""

    model: m.ConfigModel
    index: list[int]
    bad_keys: set[str]
    loose: list[tuple[int, str, str | None]] = field(default_factory=list)
    """(index, schedule, timezone) of invalid alerts whose schedule can still be checked."""


@dataclass
class Specs:
    """What a valid config compiles to."""

    settings: Settings
    alerts: list[AlertSpec]
    translations: dict[str, Translation]


@dataclass
class _Context:
    """Where problems and warnings go while compiling one file."""

    parsed: Parsed
    source: str
    warnings: list[Problem]

    def problem(self, path: Path, message: str, **how: Any) -> None:
        self.parsed.report(self.source, path, message, **how)

    def warn(self, path: Path, message: str) -> None:
        self.warnings.append(self._at(path, message))

    def _at(self, path: Path, message: str) -> Problem:
        label = format_path(path) + alert_label(path, self.parsed.data)
        return Problem(self.source, self.parsed.line_of(path), label, message)


def build_specs(
    validated: Validated | None,
    parsed: Parsed,
    source: str,
    environ: Mapping[str, str],
    env_used: set[str],
    warnings: list[Problem],
    fallbacks: Fallbacks = NO_FALLBACKS,
) -> Specs:
    """Specs for every valid alert; problems go to `parsed.problems`."""
    if validated is None:
        return Specs(Settings(source=source), [], {})
    ctx = _Context(parsed, source, warnings)
    model, bad_keys = validated.model, validated.bad_keys
    base = FsPath(source).resolve().parent
    local = _Local(_workdir(fallbacks) or base, base, ctx)
    databases = {
        name: _database_spec(d, local, ("databases", name, "url"), name)
        for name, d in model.databases.items()
    }
    default_db = _default_database(model, local, fallbacks, ctx)
    smtp, smtp_given = None, "smtp" in bad_keys  # given: there are settings, broken or not
    if _wants_email(model) or model.smtp:
        smtp, smtp_given = _smtp(model.smtp, environ, env_used, ctx)
    _duplicate_names(parsed.data.get("alerts"), ctx)
    for i, schedule, zone in validated.loose:
        _translate(schedule, zone or fallbacks.timezone, ("alerts", i), ctx)
    known = Receivers(_receivers(model), "receivers" in bad_keys, ctx)
    policy = compile_policy(model, len(validated.index), {*databases, "default"}, known, ctx)
    compiled = Specs(Settings(source=source), [], {})
    for i, a in zip(validated.index, model.alerts, strict=True):
        path: Path = ("alerts", i)
        if a.timezone is None and fallbacks.timezone:
            a = a.model_copy(update={"timezone": fallbacks.timezone})
        db = _database(a, path, databases, default_db, bad_keys, ctx)
        translation = _translate(a.schedule, a.timezone, path, ctx, warn=True)
        if translation is not None and a.jitter:
            _check_jitter(a, path, ctx, translation)
        routes = alert_routes(a, _inline(a), path, db, policy, known, ctx) if db else None
        targets = routes.targets if routes else _inline(a)
        email = [t.receiver for t in targets if t.channel == "email"]
        if smtp is None and email and not smtp_given:
            ctx.warn(_email_path(a, path, email[0]), NO_SMTP)
        if db is None or routes is None:
            continue
        if translation is not None:
            compiled.translations[a.name] = translation
        compiled.alerts.append(_alert(a, db, targets, parsed.lines.get(path), translation, routes))
    compiled.settings = Settings(
        **given(
            {
                "source": source,
                "state_db": local(model.state_db, ("state_db",)) if model.state_db else None,
                "history_retention": model.history_retention,
                "smtp": smtp,
                "alert_names": tuple(a.name for a in compiled.alerts),
            }
        )
    )
    return compiled


def _workdir(fallbacks: Fallbacks) -> FsPath | None:
    """Where relative SQLite paths are read from: the recorded folder, else this one."""
    return FsPath(fallbacks.workdir) if fallbacks.workdir else working_dir()


@dataclass(frozen=True)
class _Local:
    """Reads a relative SQLite path from `workdir` (or, when only it has the file, from the
    config's `folder`: dburl.sqlite_readings), warning when the two readings differ."""

    workdir: FsPath
    folder: FsPath
    ctx: _Context

    def __call__(self, url: str, path: Path) -> str:
        readings = sqlite_readings(url, self.workdir, self.folder)
        if readings is None:
            return url
        if readings.differ:
            used = readings.url.partition(":///")[2]
            self.ctx.warn(
                path,
                f"the relative SQLite path {readings.path!r} reads {readings.here} from the "
                f"working directory and {readings.beside} from the config's folder; using "
                f"{used}. Write an absolute path (sqlite:////…) to make it unambiguous",
            )
        return readings.url


def _database_spec(d: m.DatabaseModel, local: _Local, path: Path, name: str | None) -> DatabaseSpec:
    url = local(d.url, path)
    return DatabaseSpec(**given({"url": url, "read_only": d.read_only, "name": name}))


def _default_database(
    model: m.ConfigModel, local: _Local, fallbacks: Fallbacks, ctx: _Context
) -> DatabaseSpec | None:
    """The config's `database:`, or the fallback URL where it has none or is overridden."""
    configured = (
        _database_spec(model.database, local, ("database", "url"), None) if model.database else None
    )
    url = fallbacks.database_url
    if url is None or (configured is not None and configured.url == url):
        return configured
    if configured is None or fallbacks.database_url_overrides:
        return DatabaseSpec(url=url)
    from sqlsentinel.redaction import redact

    ctx.warn(
        ("database", "url"),
        f"DATABASE_URL is {redact(url)} but the config names {redact(configured.url)}; "
        "using the config's (pass --database-url to override it)",
    )
    return configured


def _alert(
    a: m.AlertModel,
    db: DatabaseSpec,
    targets: tuple[TargetSpec, ...],
    line: int | None,
    translation: Translation | None,
    routes: Routes,
) -> AlertSpec:
    values = a.model_dump(exclude={"database", "notify", "tags", "key"})
    values["key"] = tuple(a.key) if a.key else None
    values["severity"] = Severity(a.severity) if a.severity else None
    if translation is not None:
        values.update(
            calendar_zone=translation.calendar_zone, minute_shift=translation.minute_shift
        )
    return AlertSpec(
        **given(values),
        database=db,
        notify=targets,
        receivers=routes.own,
        policy=routes.rules,
        tags=tuple(a.tags or ()),
        line=line,
    )


def _database(
    a: m.AlertModel,
    path: Path,
    databases: dict[str, DatabaseSpec],
    default_db: DatabaseSpec | None,
    bad_keys: set[str],
    ctx: _Context,
) -> DatabaseSpec | None:
    """The alert's database, or None after reporting why there is none."""
    if a.database is not None:
        db = databases.get(a.database)
        if db is None and "databases" not in bad_keys:
            known = ", ".join(sorted(databases)) or "none defined under databases:"
            ctx.problem((*path, "database"), f"unknown database {a.database!r} (known: {known})")
        return db
    if default_db is None and not bad_keys & {"database", "databases"}:
        ctx.problem(path, "no database: set database.url at the top, or database: NAME here")
    return default_db


def _duplicate_names(alerts: Any, ctx: _Context) -> None:
    """Report every alert whose name an earlier alert already uses."""
    seen: dict[str, int] = {}
    for i, a in enumerate(alerts if isinstance(alerts, list) else []):
        name = a.get("name") if isinstance(a, dict) else None
        if not isinstance(name, str) or not name.strip():
            continue
        key = name.strip()
        if key in seen:
            first = seen[key]
            line = ctx.parsed.lines.get(("alerts", first, "name"))
            where = f"alerts[{first}]" + (f" on line {line}" if line else "")
            ctx.problem(
                ("alerts", i, "name"), f"duplicate alert name {key!r} (first used by {where})"
            )
        seen.setdefault(key, i)


def _translate(
    schedule: str, timezone: str | None, path: Path, ctx: _Context, *, warn: bool = False
) -> Translation | None:
    """The schedule's OnCalendar= translation, or None after reporting why it has none."""
    where = (*path, "schedule")
    try:
        translation = translate(schedule, timezone)
    except ScheduleError as exc:
        ctx.problem(where, str(exc))
        return None
    if warn:
        for w in translation.warnings:
            ctx.warn(where, w)
    return translation


def _check_jitter(a: m.AlertModel, path: Path, ctx: _Context, translation: Translation) -> None:
    """A delay as long as the shortest interval between runs would skip runs."""
    zone, now = a.timezone or "UTC", datetime.now(UTC)
    longest = max_jitter(a.schedule, zone, now, translation.parsed)
    if a.jitter and a.jitter > longest.total_seconds():
        ctx.problem(
            (*path, "jitter"),
            f"{format_duration(a.jitter)} is too long for schedule {a.schedule!r}: at most "
            f"{format_duration(longest.total_seconds())} (its shortest interval between two "
            f"runs less the timer's {format_duration(TIMER_ACCURACY.total_seconds())} accuracy), "
            "or runs would be skipped",
        )


def _receivers(model: m.ConfigModel) -> dict[str, tuple[TargetSpec, ...]]:
    """Each receiver's targets (each knowing its receiver)."""
    return {
        name: tuple(replace(_target(t), receiver=name) for t in targets)
        for name, targets in model.receivers.items()
    }


def _wants_email(model: m.ConfigModel) -> bool:
    return any(
        getattr(t, "channel", None) == "email"
        for targets in [*(a.notify or () for a in model.alerts), *model.receivers.values()]
        for t in targets
    )


def _email_path(a: m.AlertModel, path: Path, receiver: str) -> Path:
    """Where an alert's first email target is: its `notify:` entry, or its receiver's."""
    for j, t in enumerate(a.notify or ()):
        if getattr(t, "channel", None) == "email" if not receiver else t == receiver:
            return (*path, "notify", j)
    return ("receivers", receiver)


def _inline(a: m.AlertModel) -> tuple[TargetSpec, ...]:
    return tuple(_target(t) for t in a.notify or () if not isinstance(t, str))


def _target(t: BaseModel) -> TargetSpec:
    values = t.model_dump()
    options = {k: v for k, v in given(values).items() if k not in _COMMON_TARGET_KEYS}
    if values["channel"] == "email" and isinstance(options.get("subject"), str):
        options["subject"] = original_subject(options["subject"])
    common = given({"timeout": values["timeout"], "max_attempts": values["max_attempts"]})
    return TargetSpec(channel=values["channel"], options=options, **common)


# The original SQL Sentinel's subject fields (str.format names), as template names.
_ORIGINAL_FIELDS = re.compile(r"\{(alert_name|status|actual_value|threshold)\}")
_ORIGINAL_NAMES = {"alert_name": "alert", "status": "state"}


def original_subject(subject: str) -> str:
    """An email subject written for the original SQL Sentinel (`Revenue Alert: {alert_name}`,
    `{status}`, `{actual_value}`, `{threshold}`) as the template it meant; a subject that is
    already a template (`{{`, `{%`, `{#`) is left as it is."""
    if any(mark in subject for mark in ("{{", "{%", "{#")):
        return subject
    return _ORIGINAL_FIELDS.sub(lambda m: f"{{{{ {_ORIGINAL_NAMES.get(m[1], m[1])} }}}}", subject)


def _smtp(
    block: m.SmtpModel | None, environ: Mapping[str, str], env_used: set[str], ctx: _Context
) -> tuple[SmtpSpec | None, bool]:
    """The SMTP settings, and whether any were given (a bad SMTP_* value is reported here)."""
    if block is not None:
        values = block.model_dump(exclude={"use_tls"})
        starttls = False if block.ssl else block.use_tls
        return SmtpSpec(**given({**values, "starttls": starttls})), True
    env_used.update(SMTP_ENV_NAMES)
    try:
        spec = smtp_from_env(environ)
    except SmtpEnvError as exc:
        message = f"SMTP settings from the environment: {exc}"
        ctx.problem((), message, from_env=True, about=("smtp",))
        return None, True
    return spec, spec is not None
