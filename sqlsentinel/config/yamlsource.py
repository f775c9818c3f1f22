"""Parse YAML text into plain data while remembering the line of every value.

The work is done by `yaml_build.Builder` (bounded: no alias bomb, no deep nesting);
a syntax error, or a document too large or too deep, becomes one problem with its line.
"""

from __future__ import annotations

import yaml

from sqlsentinel.config.parsed import Parsed
from sqlsentinel.config.yaml_build import Builder, Refused
from sqlsentinel.errors import Problem

try:  # the C parser is several times faster; fall back to pure Python where absent
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


def parse_yaml(text: str, source: str) -> Parsed:
    """Parse `text`; a syntax error or a refused document becomes one problem with its line."""
    parsed = Parsed(data=None)
    loader = _Loader(text)
    try:
        parsed.data = Builder(loader, parsed, source).document()
    except yaml.MarkedYAMLError as exc:
        parsed.data = None
        line, what = _syntax_error(exc, text)
        parsed.problems.append(Problem(source, line, "", f"YAML syntax error: {what}"))
    except yaml.YAMLError as exc:
        parsed.data = None
        parsed.problems.append(Problem(source, None, "", f"YAML error: {exc}"))
    except Refused as exc:
        parsed.data = None
        parsed.problems.append(Problem(source, exc.line, "", str(exc)))
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
