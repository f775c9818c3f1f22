"""One alert's problem is that alert's problem.

A problem the environment causes (an unset `${VAR}`, a bad value read from one, a bad
SMTP_* variable) in something only some alerts use (their own fields, the defaults they
inherit, the database they name, the SMTP settings their email needs) makes just those
alerts *broken*: `validate` still reports it (exit 3), but a run of another alert is not
stopped by it, and a run of a broken alert records an ERROR with the message. Every other
problem is about the whole file and stops everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlsentinel.config.parsed import Parsed, Path
from sqlsentinel.errors import Problem


def isolate(
    parsed: Parsed, problems: list[Problem]
) -> tuple[list[Problem], dict[str, list[Problem]]]:
    """Split `problems` into file-wide ones and, by alert name, those of broken alerts."""
    data = parsed.data if isinstance(parsed.data, dict) else {}
    alerts: list[Any] = data["alerts"] if isinstance(data.get("alerts"), list) else []
    defaults: dict[str, Any] = data["defaults"] if isinstance(data.get("defaults"), dict) else {}
    names = _names(alerts, (parsed.paths.get(p) for p in problems))
    file_wide: list[Problem] = []
    broken: dict[str, list[Problem]] = {}
    for problem in problems:
        path = parsed.paths.get(problem)
        scope = None
        if path is not None and _from_env(problem, path, parsed, alerts):
            scope = _scope(path, alerts, defaults)
        if not scope or any(i not in names for i in scope):
            file_wide.append(problem)
            continue
        for i in sorted(scope):
            broken.setdefault(names[i], []).append(problem)
    return file_wide, broken


def disabled(parsed: Parsed, names: Iterable[str]) -> frozenset[str]:
    """Which of the alerts called `names` say `enabled: false` (themselves or by default)."""
    data = parsed.data if isinstance(parsed.data, dict) else {}
    alerts = data.get("alerts") if isinstance(data.get("alerts"), list) else []
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    wanted = set(names)
    return frozenset(
        a["name"].strip()
        for a in alerts or []
        if isinstance(a, dict)
        and isinstance(a.get("name"), str)
        and a["name"].strip() in wanted
        and a.get("enabled", (defaults or {}).get("enabled")) is False
    )


def _names(alerts: list[Any], paths: Iterable[Path | None]) -> dict[int, str]:
    """The name of each alert whose name is usable (given, and without a problem of its own)."""
    bad = {p[1] for p in paths if p is not None and p[:1] == ("alerts",) and p[2:3] == ("name",)}
    out = {}
    for i, a in enumerate(alerts):
        name = a.get("name") if isinstance(a, dict) else None
        if isinstance(name, str) and name.strip() and i not in bad:
            out[i] = name.strip()
    return out


def _from_env(problem: Problem, path: Path, parsed: Parsed, alerts: list[Any]) -> bool:
    """Whether the environment caused `problem`: reported so, or about a substituted value."""
    if problem in parsed.from_env:
        return True
    candidates = [path]
    if path[:1] == ("alerts",) and len(path) > 2 and isinstance(path[1], int):
        own = alerts[path[1]] if path[1] < len(alerts) else None
        if isinstance(own, dict) and path[2] not in own:  # inherited from defaults:
            candidates.append(("defaults", *path[2:]))
    return any(c in parsed.substituted for c in candidates)


def _scope(path: Path, alerts: list[Any], defaults: dict[str, Any]) -> set[int] | None:
    """The alerts (by index) that use what `path` names, or None when every alert does."""
    head, rest = path[0] if path else None, path[1:]
    if head == "alerts" and rest and isinstance(rest[0], int):
        return {rest[0]}
    entries = [(i, a) for i, a in enumerate(alerts) if isinstance(a, dict)]
    if head == "defaults" and rest:
        return {i for i, a in entries if rest[0] not in a}
    if head == "databases" and rest:
        return {i for i, a in entries if a.get("database", defaults.get("database")) == rest[0]}
    if head == "database":
        return {i for i, a in entries if a.get("database", defaults.get("database")) is None}
    if head == "smtp":
        return {i for i, a in entries if _sends_email(a.get("notify", defaults.get("notify")))}
    return None


def _sends_email(notify: Any) -> bool:
    targets = notify if isinstance(notify, list) else []
    return any(isinstance(t, dict) and t.get("channel") == "email" for t in targets)
