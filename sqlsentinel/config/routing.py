"""`receivers:` and `policy:` compiled: each rule checked, each alert's part of the policy.

An alert's compiled `notify` holds its inline targets (at their old positions), then the
targets of every receiver its `notify:` names or a rule that may match it adds; its
`policy` keeps only those rules (their alert glob, tags, database and key columns already
settled here), so a run tests only what it alone can settle: severity and key values.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Protocol

from sqlsentinel.config import models as m
from sqlsentinel.config.parsed import Parsed, Path
from sqlsentinel.core.instances import key_text
from sqlsentinel.core.route import parse_severity_match, static_match
from sqlsentinel.core.spec import DatabaseSpec, RouteMatch, RouteRule, TargetSpec, given


class _Context(Protocol):
    """Where problems and warnings go (config/to_specs.py's), and the file's lines."""

    parsed: Parsed

    def problem(self, path: Path, message: str, **how: Any) -> None: ...

    def warn(self, path: Path, message: str) -> None: ...


@dataclass(frozen=True)
class Receivers:
    """The `receivers:` block, and the check of a name used elsewhere."""

    targets: dict[str, tuple[TargetSpec, ...]]
    broken: bool  # the block itself has problems (already reported)
    ctx: _Context

    def check(self, name: str, path: Path) -> bool:
        """Whether `name` is a receiver (reporting it at `path` when it is not)."""
        if name in self.targets:
            return True
        if not self.broken:
            names = ", ".join(sorted(self.targets)) or "none defined under receivers:"
            self.ctx.problem(path, f"unknown receiver {name!r} (known: {names})")
        return False


def compile_policy(
    model: m.ConfigModel, valid: int, databases: set[str], known: Receivers,
    ctx: _Context,
) -> list[RouteRule]:  # fmt: skip
    """The `policy:` rules, each checked against the receivers, databases and key columns."""
    keys = [set(a.key or ()) for a in model.alerts]
    rules = []
    for i, r in enumerate(model.policy):
        path: Path = ("policy", i)
        for j, name in enumerate(r.notify):
            known.check(name, (*path, "notify", j))
        match = r.match or m.MatchModel()
        if match.database is not None and match.database not in databases:
            names = ", ".join(sorted(databases))
            ctx.problem((*path, "match", "database"),
                        f"unknown database {match.database!r} (known: {names})")  # fmt: skip
        columns = set(match.key or ())
        if columns and not any(columns <= k for k in keys) and _all_valid(valid, ctx):
            listed = ", ".join(sorted(columns))
            ctx.problem((*path, "match", "key"),
                        f"no alert has the key column(s) {listed} (key: on an alert)")  # fmt: skip
        glob = match.alert
        if (
            glob
            and _all_valid(valid, ctx)
            and not any(fnmatchcase(a.name, glob) for a in model.alerts)
        ):
            ctx.warn((*path, "match", "alert"), f"{glob!r} matches no alert's name")
        severity = None if match.severity is None else parse_severity_match(match.severity)
        rules.append(RouteRule(
            match=RouteMatch(alert=match.alert, tags=tuple(match.tags or ()), severity=severity,
                             database=match.database,
                             key={k: key_text(v) for k, v in (match.key or {}).items()}),
            receivers=tuple(r.notify), **given({"repeat": r.repeat}), continue_=r.continue_,
            line=ctx.parsed.lines.get(path),
        ))  # fmt: skip
    return rules


@dataclass(frozen=True)
class Routes:
    """An alert's part of the policy: its own receivers, the rules that may match it, and
    every target it may be routed to (inline ones first, at their old positions)."""

    own: tuple[str, ...]
    rules: tuple[RouteRule, ...]
    targets: tuple[TargetSpec, ...]


def alert_routes(
    a: m.AlertModel, inline: tuple[TargetSpec, ...], path: Path, db: DatabaseSpec,
    policy: list[RouteRule], known: Receivers, ctx: _Context,
) -> Routes:  # fmt: skip
    """Resolve an alert's receiver names and the policy's rules that may match it."""
    own: list[str] = []
    for j, entry in enumerate(a.notify or ()):
        if isinstance(entry, str) and entry not in own and known.check(entry, (*path, "notify", j)):
            own.append(entry)
    tags, columns = tuple(a.tags or ()), set(a.key or ())
    rules = tuple(
        r for r in policy
        if static_match(r.match, a.name, tags, db.name) and set(r.match.key) <= columns
    )  # fmt: skip
    if policy and not a.notify and not rules:
        ctx.warn(path, "has no notify: and no policy: rule matches it, so nobody is told")
    names = dict.fromkeys([*own, *(n for r in rules for n in r.receivers)])
    reachable = [t for n in names for t in known.targets.get(n, ())]
    return Routes(tuple(own), rules, (*inline, *reachable))


def _all_valid(valid: int, ctx: _Context) -> bool:
    """All alerts of the file are valid (else a key column may be a broken alert's)."""
    alerts = ctx.parsed.data.get("alerts")
    return isinstance(alerts, list) and valid == len(alerts)
