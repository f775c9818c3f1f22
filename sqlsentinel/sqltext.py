"""Where one SQL statement ends: a `;` outside quotes, comments and dollar-quoted bodies.

Used at validate time to refuse a query that holds several statements (the drivers refuse
them at run time too: docs/configuration.md, "Databases"). It knows the lexical forms of
PostgreSQL and SQLite: '…' and "…" (doubled quotes inside), E'…' backslash escapes,
-- and /* */ comments (nested in PostgreSQL), and $tag$…$tag$ bodies.
"""

from __future__ import annotations

import re

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def extra_statement(sql: str) -> int | None:
    """The offset of a second statement in `sql` (after a `;`), or None when it holds one."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            i = _after_quote(sql, i, c, escapes=c == "'" and sql[i - 1 : i] in ("E", "e"))
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _after_comment(sql, i)
        elif c == "$" and (m := _DOLLAR.match(sql, i)) and not sql[i - 1 : i].isalnum():
            end = sql.find(m.group(0), m.end())
            i = n if end < 0 else end + len(m.group(0))
        elif c == ";":
            rest = _skip_blanks(sql, i + 1)
            return None if rest >= n else rest
        else:
            i += 1
    return None


def _after_quote(sql: str, i: int, quote: str, *, escapes: bool) -> int:
    j = i + 1
    while j < len(sql):
        if escapes and sql[j] == "\\":
            j += 2
            continue
        if sql[j] == quote:
            if sql[j + 1 : j + 2] == quote:  # a doubled quote stands for itself
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


def _after_comment(sql: str, i: int) -> int:
    depth, j = 0, i
    while j < len(sql):
        if sql.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif sql.startswith("*/", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        else:
            j += 1
    return len(sql)


def _skip_blanks(sql: str, i: int) -> int:
    """The first offset at or after `i` that is not blank, a `;` or a comment."""
    while i < len(sql):
        if sql[i].isspace() or sql[i] == ";":
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _after_comment(sql, i)
        else:
            return i
    return i
