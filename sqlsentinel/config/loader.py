"""Load a config: YAML text -> substituted data -> validated models -> runtime specs.

`load_text` does the work on text; `load_file` is the thin wrapper that reads a
file. Every problem is collected before a single `ConfigError` is raised.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from sqlsentinel.config import models as m
from sqlsentinel.config.envsubst import substitute
from sqlsentinel.config.fallbacks import NO_FALLBACKS, Fallbacks
from sqlsentinel.config.isolate import disabled, isolate
from sqlsentinel.config.messages import report
from sqlsentinel.config.parsed import Parsed
from sqlsentinel.config.read import decode_config, read_config
from sqlsentinel.config.to_specs import Validated, build_specs
from sqlsentinel.config.yamlsource import parse_yaml
from sqlsentinel.core.spec import AlertSpec, Settings
from sqlsentinel.dburl import working_dir
from sqlsentinel.errors import ConfigError, Problem
from sqlsentinel.schedule.translate import Translation


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config: settings, every alert, warnings and the env vars it read."""

    settings: Settings
    alerts: tuple[AlertSpec, ...]
    warnings: tuple[Problem, ...] = ()
    env_used: frozenset[str] = field(default_factory=frozenset)
    translations: Mapping[str, Translation] = field(default_factory=dict)
    """Each alert's schedule as OnCalendar= lines, by alert name."""
    broken: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)
    """Alerts that cannot run, by name, with the problems that concern them alone (an
    unset variable they read, say; see config.isolate). They are not in `alerts`."""
    broken_disabled: frozenset[str] = frozenset()
    """The broken alerts that say `enabled: false`."""
    state_db_text: tuple[str, int | None] | None = None
    """`state_db:` as written (`${VAR}` unresolved) and its line, when the file sets it."""
    workdir: str | None = None
    """Where relative SQLite paths were read from (Fallbacks.workdir; None: not known)."""
    unnotified: frozenset[str] = frozenset()
    """The broken alerts whose every problem is in their notifications (a target, or the
    SMTP settings their email needs): what runs when is still known (`with_schedules`)."""

    def alert(self, name: str) -> AlertSpec | None:
        """The alert called `name`, if any."""
        return next((a for a in self.alerts if a.name == name), None)

    def broken_problems(self) -> list[Problem]:
        """Every problem of a broken alert, once each, in line order."""
        found = {p: None for problems in self.broken.values() for p in problems}
        return sorted(found, key=lambda p: (p.line or 0, p.path))


def load_file(
    path: str, environ: Mapping[str, str] | None = None, fallbacks: Fallbacks = NO_FALLBACKS
) -> LoadedConfig:
    """Read and validate the config file at `path`."""
    text = decode_config(read_config(path), path)
    return load_text(text, path, os.environ if environ is None else environ, fallbacks)


def load_text(
    text: str,
    source: str,
    environ: Mapping[str, str],
    fallbacks: Fallbacks = NO_FALLBACKS,
    *,
    without_notify: frozenset[str] = frozenset(),
) -> LoadedConfig:
    """Validate config `text`; `source` names it in messages and anchors relative paths.

    `fallbacks` are values from outside the file (the daemon's --timezone, --database-url).
    `without_notify`: alerts read as if they had no `notify:` (and the file no `smtp:`).
    """
    parsed = parse_yaml(text, source)
    if parsed.problems and parsed.data is None:
        raise ConfigError(parsed.problems)
    if not isinstance(parsed.data, dict):
        got = _KINDS.get(type(parsed.data).__name__, "a single value")
        if parsed.data is None:
            got = "an empty file"
        message = f"the top level must be a mapping with database: and alerts:, not {got}"
        raise ConfigError([*parsed.problems, Problem(source, 1, "", message)])
    written = parsed.data.get("state_db")
    state_db_text = (written, parsed.lines.get(("state_db",))) if isinstance(written, str) else None
    if without_notify:
        _drop_notifications(parsed, without_notify)
    env_used = substitute(parsed, environ, source)
    early = len(parsed.problems)
    validated = _validate(parsed, source)
    warnings: list[Problem] = []
    compiled = build_specs(validated, parsed, source, environ, env_used, warnings, fallbacks)
    broken: dict[str, list[Problem]] = {}
    if parsed.problems:
        problems = _tidy(parsed.problems, early)
        file_wide, broken = isolate(parsed, problems)
        if file_wide:
            raise ConfigError(problems)
    alerts = tuple(a for a in compiled.alerts if a.name not in broken)
    names = (*(a.name for a in alerts), *sorted(broken))
    return LoadedConfig(
        replace(compiled.settings, alert_names=names),
        alerts,
        tuple(warnings),
        frozenset(env_used),
        {k: v for k, v in compiled.translations.items() if k not in broken},
        {name: tuple(problems) for name, problems in broken.items()},
        disabled(parsed, broken),
        state_db_text,
        fallbacks.workdir or _here(),
        frozenset(n for n, problems in broken.items() if _in_notifications(parsed, problems)),
    )


def with_schedules(
    loaded: LoadedConfig, text: str, environ: Mapping[str, str], fallbacks: Fallbacks
) -> LoadedConfig:
    """`loaded` (validated from `text`) with its alerts broken only by their notifications
    back in, without targets: when they run is known whatever their secrets (status,
    metrics and the stale check read it); the problems they left `broken` with stay in
    `loaded`."""
    if not loaded.unnotified:
        return loaded
    source, names = loaded.settings.source, loaded.unnotified
    again = load_text(text, source, environ, fallbacks, without_notify=names)
    back = [a for a in again.alerts if a.name in names]
    kept = {a.name for a in back}
    return replace(
        loaded,
        alerts=(*loaded.alerts, *back),
        translations={
            **loaded.translations,
            **{n: t for n, t in again.translations.items() if n in kept},
        },
        broken={n: p for n, p in loaded.broken.items() if n not in kept},
    )


def _in_notifications(parsed: Parsed, problems: list[Problem]) -> bool:
    """Whether every one of an alert's `problems` is about its notifications."""

    def notification(path: tuple[str | int, ...] | None) -> bool:
        return path is not None and (
            path[:1] == ("smtp",)
            or path[:2] == ("defaults", "notify")
            or (path[:1] == ("alerts",) and path[2:3] == ("notify",))
        )

    return bool(problems) and all(notification(parsed.paths.get(p)) for p in problems)


def _drop_notifications(parsed: Parsed, names: frozenset[str]) -> None:
    data = parsed.data
    data.pop("smtp", None)
    data.pop("policy", None)  # nor does the policy route them anywhere
    for a in data.get("alerts") if isinstance(data.get("alerts"), list) else []:
        if isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"].strip() in names:
            a["notify"] = []


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
    unset = re.findall(
        r"environment variable (\w+) is not set", " ".join(map(str, problems[:early]))
    )
    kept = problems[:early] + [
        p
        for p in problems[early:]
        if (p.line, p.path.split(" (alert ")[0]) not in first
        and not any(f"${{{name}" in p.message for name in unset)
    ]
    out: list[Problem] = []
    for p in sorted(kept, key=lambda p: (p.line or 0, p.path)):
        if p not in out:
            out.append(p)
    return out


# ---------------------------------------------------------------- validation


_STAND_IN = {"name": "-", "query": "-", "schedule": "* * * * *"}


def _validate(parsed: Parsed, source: str) -> Validated | None:
    data: dict[str, Any] = dict(parsed.data)
    defaults = data.get("defaults")
    if isinstance(defaults, dict):
        data.pop("defaults")
        try:
            m.DefaultsModel.model_validate(defaults)
        except ValidationError as exc:
            report(exc, ("defaults",), parsed, source)
            bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
            defaults = {k: v for k, v in defaults.items() if k not in bad}
        alerts = data.get("alerts")
        if isinstance(alerts, list):
            data["alerts"] = [{**defaults, **a} if isinstance(a, dict) else a for a in alerts]
            _inherit_lines(parsed, defaults, alerts)
    try:
        model = m.ConfigModel.model_validate(data)
        return Validated(model, list(range(len(model.alerts))), set())
    except ValidationError as exc:
        report(exc, (), parsed, source)
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
    return Validated(model, index, bad_keys, loose)


def _inherit_lines(parsed: Parsed, defaults: dict[str, Any], alerts: list[Any]) -> None:
    """Point an alert's inherited keys at their line under `defaults:`."""
    inherited = [(p, line) for p, line in parsed.lines.items() if p[:1] == ("defaults",)]
    for i, a in enumerate(alerts):
        if isinstance(a, dict):
            for path, line in inherited:
                if len(path) > 1 and path[1] not in a:
                    parsed.lines[("alerts", i, *path[1:])] = line


def _here() -> str | None:
    here = working_dir()
    return None if here is None else str(here)
