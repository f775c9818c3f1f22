"""Parse YAML text into plain data while remembering the line of every value.

Duplicate keys are problems (YAML silently keeps the last one), except the one
form the original SQL Sentinel documented: a Slack `notify` entry with a second
`channel:` key naming the Slack channel, which becomes `slack_channel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from sqlsentinel.errors import Problem
from sqlsentinel.notify.channels import CHANNELS

Path = tuple[str | int, ...]

try:  # the C loader is several times faster; fall back to pure Python where absent
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass
class Parsed:
    """Plain data plus the 1-based line of every path, and problems found."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

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


def parse_yaml(text: str, source: str) -> Parsed:
    """Parse `text`; syntax errors become a single problem with the line."""
    parsed = Parsed(data=None)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            parsed.data = _build(loader, node, (), parsed, source)
    except yaml.MarkedYAMLError as exc:
        line, what = _syntax_error(exc, text)
        parsed.problems.append(Problem(source, line, "", f"YAML syntax error: {what}"))
    except yaml.YAMLError as exc:
        parsed.problems.append(Problem(source, None, "", f"YAML error: {exc}"))
    finally:
        loader.dispose()
    return parsed


_OPENERS = {"flow sequence": "'['", "flow mapping": "'{'", "quoted scalar": "quote"}


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> tuple[int | None, str]:
    """The line and a plain description of a YAML syntax error."""
    mark = exc.problem_mark or exc.context_mark
    last = max(len(text.splitlines()), 1)
    line = min(mark.line + 1, last) if mark else None
    what = exc.problem or exc.context or "invalid YAML"
    ctx, start = exc.context or "", exc.context_mark
    if mark is not None and text[mark.index : mark.index + 1] == "\t":
        what = "found a tab character; indent YAML with spaces, not tabs"
    elif start is not None and any(k in ctx for k in _OPENERS):
        opener = next(v for k, v in _OPENERS.items() if k in ctx)
        what += f" (is the {opener} on line {start.line + 1} closed?)"
    elif "block" in ctx or "indicator" in what or "expected key" in what:
        what += "; check the indentation"
    return line, what


def _build(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path, parsed: Parsed, source: str
) -> Any:
    parsed.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                parsed.problems.append(
                    Problem(source, line, format_path(path), f"keys must be text, not {key!r}")
                )
                continue
            if key in seen:
                key = _duplicate_key(key, out, value_node, path, parsed, source, seen[key], line)
                if key is None:
                    continue
            seen[key] = line
            out[key] = _build(loader, value_node, (*path, key), parsed, source)
            parsed.lines[(*path, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, n, (*path, i), parsed, source) for i, n in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _duplicate_key(
    key: str,
    out: dict[str, Any],
    value_node: yaml.Node,
    path: Path,
    parsed: Parsed,
    source: str,
    first_line: int,
    line: int,
) -> str | None:
    """Name under which a repeated key is kept, or None after reporting it."""
    in_notify = len(path) >= 2 and isinstance(path[-1], int) and path[-2] == "notify"
    if key == "channel" and in_notify and isinstance(value_node, yaml.ScalarNode):
        first, second = out.get("channel"), value_node.value
        if first == "slack" and second not in CHANNELS:
            return "slack_channel"
        if second == "slack" and first not in CHANNELS:
            out["slack_channel"] = out.pop("channel")
            parsed.lines[(*path, "slack_channel")] = first_line
            return "channel"
    parsed.problems.append(
        Problem(
            source,
            line,
            format_path((*path, key)),
            f"duplicate key {key!r} (first given on line {first_line})",
        )
    )
    return None
