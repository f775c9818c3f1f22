"""`${VAR}` and `${VAR:-default}` substitution inside string values (after YAML parsing).

Only `${` starts a reference, so SQL keeps its dollars: PostgreSQL dollar quoting
(`$$…$$`, `$tag$…$tag$`), `$1` parameters and `$NAME` pass through unchanged. The one
escape is `$${`, which stands for a literal `${`. A default may itself hold references
(`${A:-${B}}`); it is expanded only when it is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlsentinel.config.parsed import Parsed, Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HINT = "write ${NAME} or ${NAME:-default} (and $${ for a literal ${)"


def substitute(parsed: Parsed, environ: Mapping[str, str], source: str) -> set[str]:
    """Replace references in every string of `parsed.data` in place.

    `${VAR:-x}` uses `x` when VAR is unset or empty, `${VAR-x}` only when unset.
    Returns the names of every variable consulted; the paths of the values that the
    environment decided are added to `parsed.substituted`.
    """
    walker = _Walker(parsed, environ, source)
    parsed.data = walker.walk(parsed.data, ())
    return walker.used


@dataclass
class _Walker:
    parsed: Parsed
    env: Mapping[str, str]
    source: str
    used: set[str] = field(default_factory=set)

    def walk(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            if "${" not in value:
                return value
            text = _Text(self, value, path)
            expanded = text.expand(0, len(value))
            if text.from_env and not text.malformed:
                self.parsed.substituted.add(path)
            return expanded
        if isinstance(value, dict):
            return {k: self.walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    def problem(self, path: Path, message: str, *, from_env: bool = False) -> None:
        self.parsed.report(self.source, path, message, from_env=from_env)


@dataclass
class _Text:
    """One string being expanded."""

    walker: _Walker
    text: str
    path: Path
    from_env: bool = False  # a variable (or its default) decided part of the value
    malformed: bool = False

    def expand(self, start: int, end: int) -> str:
        """`text[start:end]` with its references replaced."""
        out, i, text = [], start, self.text
        while True:
            j = text.find("$", i, end)
            if j < 0:
                out.append(text[i:end])
                return "".join(out)
            out.append(text[i:j])
            if text.startswith("$${", j, end):
                out.append("${")
                i = j + 3
            elif text.startswith("${", j, end):
                replacement, i = self._reference(j, end)
                out.append(replacement)
            else:
                out.append("$")
                i = j + 1

    def _reference(self, start: int, end: int) -> tuple[str, int]:
        """The value of the reference at `start` and the index after it."""
        text = self.text
        name = _NAME.match(text, start + 2, end)
        close = self._closing(start + 2, end)
        after = name.end() if name else start + 2
        op = next((o for o in (":-", "-", "}") if text.startswith(o, after, end)), None)
        if name is None or op is None or close < 0:
            stop = text.find("}", start, end)
            whole = text[start : stop + 1 if stop >= 0 else end]
            self.walker.problem(self.path, f"malformed variable reference {whole!r}; {_HINT}")
            self.malformed = True
            return whole, start + len(whole)
        var = name.group()
        self.from_env = True
        self.walker.used.add(var)
        current = self.walker.env.get(var)
        if op != "}" and (current is None or (op == ":-" and not current)):
            return self.expand(after + len(op), close), close + 1
        if current is None:
            hint = f"write ${{{var}:-default}} to give a default"
            message = f"environment variable {var} is not set ({hint})"
            self.walker.problem(self.path, message, from_env=True)
            return text[start : close + 1], close + 1
        return current, close + 1

    def _closing(self, i: int, end: int) -> int:
        """The index of the `}` that closes a reference whose name starts at `i`, or -1."""
        text, depth = self.text, 1
        while i < end:
            if text.startswith("$${", i):
                i += 3
            elif text.startswith("${", i):
                depth, i = depth + 1, i + 2
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return i
                i += 1
            else:
                i += 1
        return -1
