"""What reading a config produces: plain data, the line of every value, and the problems.

`Parsed.report` is how every stage adds a problem about a value: with its line, the
alert's name, and what `config.isolate` needs to find the alerts it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlsentinel.errors import Problem

Path = tuple[str | int, ...]


@dataclass
class Parsed:
    """Plain data plus the 1-based line of every path, and problems found."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    substituted: set[Path] = field(default_factory=set)
    """Paths of the strings whose value the environment decided (see envsubst)."""
    paths: dict[Problem, Path] = field(default_factory=dict)
    """The path of each problem about a value (config.isolate finds the alerts it concerns)."""
    from_env: set[Problem] = field(default_factory=set)
    """Problems the environment causes: an unset variable, a bad SMTP_* value."""

    def report(
        self,
        source: str,
        path: Path,
        message: str,
        *,
        from_env: bool = False,
        about: Path | None = None,
    ) -> Problem:
        """Add a problem about the value at `path` (its line, and the alert's name, are found
        here); `about` is the part of the file it concerns, when that is not `path`."""
        label = format_path(path) + alert_label(path, self.data)
        problem = Problem(source, self.line_of(path), label, message)
        self.problems.append(problem)
        self.paths[problem] = path if about is None else about
        if from_env:
            self.from_env.add(problem)
        return problem

    def line_of(self, path: Path) -> int | None:
        """Line of `path` or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


def format_path(path: Path) -> str:
    """`('alerts', 0, 'notify')` -> `alerts[0].notify`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def alert_label(loc: Path, data: Any) -> str:
    """` (alert 'NAME')` for a path inside an alert that has a usable name, else ``."""
    if len(loc) >= 2 and loc[0] == "alerts" and isinstance(loc[1], int):
        alerts = data.get("alerts") if isinstance(data, dict) else None
        if isinstance(alerts, list) and loc[1] < len(alerts) and isinstance(alerts[loc[1]], dict):
            name = alerts[loc[1]].get("name")
            if isinstance(name, str) and name.strip() and name.isprintable():
                return f" (alert {name.strip()!r})"
    return ""
