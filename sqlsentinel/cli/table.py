"""What commands print for people: text a terminal shows and never obeys.

Values come from queries and the state database, so anything may be in them. A terminal
obeys ESC sequences (colours, OSC "set window title"), CR rewinds a line, BEL rings and
U+202E reverses what follows; `printable` shows each such character as an escape
(`\\x1b`, `\\u202e`) instead. `json_text` writes the same characters as JSON escapes, so
`--json` decodes to exactly the values while staying safe to print.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 and C1 controls, DEL, lone surrogates, the line and paragraph separators, and every
# bidirectional formatting character (embeddings, overrides, isolates and marks).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_IN_LINES = re.compile(_UNSAFE.pattern.replace("\x00-\x1f", "\x00-\x08\x0b-\x1f"))
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Inside JSON strings (the only place they can be: JSON's own syntax is ASCII).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    named = _NAMED.get(c)
    if named is not None:
        return named
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with every control and bidi character escaped; `lines` keeps tabs and line
    feeds (messages on stderr), else they are escaped too (a table cell is one line)."""
    return (_UNSAFE_IN_LINES if lines else _UNSAFE).sub(_escape, text)


def json_text(value: Any) -> str:
    """`value` as indented JSON, with what a terminal would obey written as `\\uXXXX`."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
