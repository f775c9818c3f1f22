"""Environment files, read as systemd's `EnvironmentFile=` reads them.

The services get their secrets and `${VAR}`s from an environment file (`install-units
--env-file`, the package's /etc/sqlsentinel/sqlsentinel.env); a command run from a shell
reads the same file (`--env-file`) to see what they see. The grammar is systemd 252's
(`src/basic/env-file.c`, then `strv_env_clean` in `exec_context_load_environment`):
`KEY=value` per line, `#` or `;` starting a comment line, whitespace around the key and
the unquoted value dropped, `'…'` taken as written, `"…"` with `\\"`, `\\\\`, `` \\` `` and
`\\$` unescaped (any other backslash kept), a backslash outside quotes taking the next
character as written and a backslash-newline joining lines. No `export`, no `${VAR}`
expansion. An assignment whose name is not a variable name is ignored with a warning
(systemd logs and ignores it too); a file that is not UTF-8 is refused, as systemd
refuses to start a service with it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlsentinel.errors import ConfigError, Problem, UsageError

SYSTEM_ENV_FILE = "/etc/sqlsentinel/sqlsentinel.env"  # systemd/sqlsentinel.service
USER_ENV_FILE = ".config/sqlsentinel/sqlsentinel.env"  # below %h: systemd/user/sqlsentinel.service
MAX_ENV_FILE_BYTES = 1024 * 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WHITESPACE = " \t\n\r"
_NEWLINE = "\n\r"
_UNESCAPED_IN_DOUBLE_QUOTES = '"\\`$'


@dataclass(frozen=True)
class EnvFile:
    """The assignments of one file (the last of a name wins) and the lines ignored."""

    path: str
    values: dict[str, str] = field(default_factory=dict)
    ignored: tuple[Problem, ...] = ()


def parse_env_file(text: str, source: str) -> EnvFile:
    """The variables `text` assigns, as systemd reads an EnvironmentFile=."""
    values: dict[str, str] = {}
    ignored: list[Problem] = []
    for line, key, value in _assignments(text):
        if _NAME.match(key):
            values[key] = value
        else:
            message = f"ignoring {key!r}: not a variable name (systemd ignores it too)"
            ignored.append(Problem(source, line, "", message))
    return EnvFile(source, values, tuple(ignored))


def _assignments(text: str) -> list[tuple[int, str, str]]:
    """(line, key, value) of each assignment, by systemd's state machine."""
    parser = _Parser()
    for c in text.split("\0", 1)[0]:  # systemd reads a C string: it ends at a NUL
        getattr(parser, parser.state)(c)
        if c == "\n":
            parser.line += 1
    if parser.state not in ("pre_key", "in_key", "comment", "comment_escape"):
        parser.push()
    return parser.out


@dataclass
class _Parser:
    """systemd 252's `parse_env_file_internal`: one method per state, fed a character."""

    state: str = "pre_key"
    key: str = ""
    value: str = ""
    key_ws: int | None = None  # where the key's trailing whitespace starts
    value_ws: int | None = None  # where an unquoted value's trailing whitespace starts
    line: int = 1
    start: int = 1  # the line the assignment starts on
    out: list[tuple[int, str, str]] = field(default_factory=list)

    def push(self) -> None:
        key = self.key if self.key_ws is None else self.key[: self.key_ws]
        chomp = self.state == "in_value" and self.value_ws is not None
        self.out.append((self.start, key, self.value[: self.value_ws] if chomp else self.value))
        self.state = "pre_key"

    def pre_key(self, c: str) -> None:
        if c in "#;":
            self.state = "comment"
        elif c not in _WHITESPACE:
            self.state, self.key, self.key_ws, self.start = "in_key", c, None, self.line

    def in_key(self, c: str) -> None:
        if c in _NEWLINE:
            self.state = "pre_key"  # no `=`: not an assignment
        elif c == "=":
            self.state, self.value, self.value_ws = "pre_value", "", None
        else:
            if c not in _WHITESPACE:
                self.key_ws = None
            elif self.key_ws is None:
                self.key_ws = len(self.key)
            self.key += c

    def pre_value(self, c: str) -> None:
        if c in _NEWLINE:
            self.push()
        elif c in "'\"\\":
            self.state = {"'": "single_quote", '"': "double_quote", "\\": "value_escape"}[c]
        elif c not in _WHITESPACE:
            self.state, self.value = "in_value", self.value + c

    def in_value(self, c: str) -> None:
        if c in _NEWLINE:
            self.push()
        elif c == "\\":
            self.state, self.value_ws = "value_escape", None
        else:
            if c not in _WHITESPACE:
                self.value_ws = None
            elif self.value_ws is None:
                self.value_ws = len(self.value)
            self.value += c

    def value_escape(self, c: str) -> None:
        self.state = "in_value"
        self.value += "" if c in _NEWLINE else c  # an escaped newline joins the lines

    def single_quote(self, c: str) -> None:
        if c == "'":
            self.state = "pre_value"
        else:
            self.value += c

    def double_quote(self, c: str) -> None:
        if c == '"':
            self.state = "pre_value"
        elif c == "\\":
            self.state = "double_quote_escape"
        else:
            self.value += c

    def double_quote_escape(self, c: str) -> None:
        self.state = "double_quote"
        if c in _UNESCAPED_IN_DOUBLE_QUOTES:
            self.value += c
        elif c != "\n":
            self.value += "\\" + c

    def comment(self, c: str) -> None:
        if c == "\\":
            self.state = "comment_escape"
        elif c in _NEWLINE:
            self.state = "pre_key"

    def comment_escape(self, c: str) -> None:
        self.state = "comment"  # systemd 252: a comment ending in a backslash goes on


def read_env_file(path: str) -> EnvFile:
    """The variables the file at `path` assigns; UsageError when it cannot be read,
    ConfigError (file:line) when it is not UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_ENV_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--env-file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_ENV_FILE_BYTES:
        raise UsageError(f"--env-file {path}: larger than {MAX_ENV_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = "not UTF-8 (systemd refuses to start a service with this file)"
        raise ConfigError([Problem(path, line, "", message)]) from None
    return parse_env_file(text, path)


def default_env_file(environ: Mapping[str, str]) -> str | None:
    """The services' file a command reads unless told otherwise: the system one for root,
    else the user unit's below the home folder; None in a service (its manager already
    gave it its environment: INVOCATION_ID is set)."""
    if environ.get("INVOCATION_ID"):
        return None
    if os.geteuid() == 0:
        return SYSTEM_ENV_FILE
    home = environ.get("HOME") or os.path.expanduser("~")
    return str(Path(home) / USER_ENV_FILE)


def readable_default(path: str, warn: Callable[[str], None]) -> bool:
    """Whether to read the default file at `path`: only when it exists and is readable,
    and not when another user owns it or others may write it (it would not be yours to
    trust; `warn` says so)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or not os.access(path, os.R_OK):
        return False
    if st.st_uid not in (0, os.geteuid()) or st.st_mode & stat.S_IWOTH:
        warn(f"not reading {path}: it is writable by others or owned by another user")
        return False
    return True


def fill_environment(env_file: EnvFile, environ: MutableMapping[str, str]) -> None:
    """Set each variable of `env_file` that `environ` does not set (this shell's own
    settings win, as a shell's do over a dotenv file)."""
    for name, value in env_file.values.items():
        environ.setdefault(name, value)
