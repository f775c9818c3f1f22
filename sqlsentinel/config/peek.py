"""Read the little a state command needs from a config, without validating the config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from sqlsentinel.config.envsubst import substitute
from sqlsentinel.config.read import decode_config, read_config
from sqlsentinel.dburl import resolve_sqlite, working_dir
from sqlsentinel.errors import ConfigError, Problem


@dataclass(frozen=True)
class ConfigPeek:
    """What a config names, read without validating it (for state commands and previews)."""

    source: str
    state_db: str | None
    alert_names: tuple[str, ...]
    schedules: tuple[tuple[str, str, str | None], ...]  # (alert, cron, timezone), as written
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # keyed alerts' key columns
    max_instances: dict[str, int] = field(default_factory=dict)  # as written, where it is


def _keys(entries: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """The `key:` of each alert that has one (a text or a list of texts, as written)."""
    out = {}
    for a in entries:
        key = a.get("key")
        columns = [key] if isinstance(key, str) else key if isinstance(key, list) else []
        names = tuple(c.strip() for c in columns if isinstance(c, str) and c.strip())
        if names:
            out[a["name"].strip()] = names
    return out


def peek_file(path: str, environ: Mapping[str, str] | None = None) -> ConfigPeek:
    """The state database, alert names and schedules of the config at `path`.

    Reading state (status, history, metrics) must not depend on notification secrets
    or on every alert being valid; only YAML syntax and `state_db` itself must be right.
    """
    from sqlsentinel.config.yamlsource import parse_yaml  # PyYAML: only when peeking a file

    parsed = parse_yaml(decode_config(read_config(path), path), path)
    if parsed.problems:
        raise ConfigError(parsed.problems)
    substitute(parsed, os.environ if environ is None else environ, path)
    state_problems = [p for p in parsed.problems if p.path == "state_db"]
    if state_problems:
        raise ConfigError(state_problems)
    data = parsed.data if isinstance(parsed.data, dict) else {}
    state_db = data.get("state_db")
    if state_db is not None and not isinstance(state_db, str):
        line = parsed.lines.get(("state_db",))
        raise ConfigError([Problem(path, line, "state_db", "must be a database URL or a path")])
    defaults = data.get("defaults")
    defaults = defaults if isinstance(defaults, dict) else {}
    alerts = data.get("alerts")
    alerts = alerts if isinstance(alerts, list) else []
    entries = [
        {**defaults, **a} for a in alerts if isinstance(a, dict) and isinstance(a.get("name"), str)
    ]
    schedules = tuple(
        (
            a["name"].strip(),
            a["schedule"],
            a.get("timezone") if isinstance(a.get("timezone"), str) else None,
        )
        for a in entries
        if isinstance(a.get("schedule"), str)
    )
    base = FsPath(path).resolve().parent
    return ConfigPeek(
        path,
        resolve_sqlite(state_db, working_dir() or base, base) if state_db else None,
        tuple(a["name"].strip() for a in entries),
        schedules,
        _keys(entries),
        {
            a["name"].strip(): a["max_instances"]
            for a in entries
            if type(a.get("max_instances")) is int and a["max_instances"] > 0
        },
    )
