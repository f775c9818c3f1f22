"""`${VAR}` and `${VAR:-default}` substitution inside string values (after YAML parsing)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlsentinel.config.yamlsource import Parsed, Path, format_path
from sqlsentinel.errors import Problem

_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$\{[^}]*\}?")


def substitute(parsed: Parsed, environ: Mapping[str, str], source: str) -> set[str]:
    """Replace references in every string of `parsed.data` in place.

    `$$` is a literal `$`. `${VAR:-x}` uses `x` when VAR is unset or empty,
    `${VAR-x}` only when unset. Returns the names of every variable consulted.
    """
    used: set[str] = set()
    parsed.data = _walk(parsed.data, (), parsed, environ, source, used)
    return used


def _walk(
    value: Any, path: Path, parsed: Parsed, env: Mapping[str, str], source: str, used: set[str]
) -> Any:
    if isinstance(value, str):
        return _expand(value, path, parsed, env, source, used) if "$" in value else value
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), parsed, env, source, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), parsed, env, source, used) for i, v in enumerate(value)]
    return value


def _expand(
    text: str, path: Path, parsed: Parsed, env: Mapping[str, str], source: str, used: set[str]
) -> str:
    def replace(m: re.Match[str]) -> str:
        whole, name, op, default = m.group(0), m.group(1), m.group(2), m.group(3)
        if whole == "$$":
            return "$"
        if name is None:
            parsed.problems.append(
                Problem(
                    source,
                    parsed.line_of(path),
                    format_path(path),
                    f"malformed variable reference {whole!r}; write ${{NAME}} or "
                    "${NAME:-default} (and $$ for a literal $)",
                )
            )
            return whole
        used.add(name)
        current = env.get(name)
        if op == ":-" and not current:
            return default
        if op == "-" and current is None:
            return default
        if current is None:
            parsed.problems.append(
                Problem(
                    source,
                    parsed.line_of(path),
                    format_path(path),
                    f"environment variable {name} is not set (write ${{{name}:-default}} "
                    "to give a default)",
                )
            )
            return whole
        return current

    return _REF.sub(replace, text)
