"""Read a config file: the one place that opens it (validate, run, install-units, daemon).

Only a regular file of at most MAX_CONFIG_BYTES is read. A directory, a named pipe
(which would block), a device (`/dev/zero` never ends) or a socket is refused before
it is opened, and again after (it may have been swapped in between), so reading a
config always ends quickly with its bytes or a ConfigError (exit 3).
"""

from __future__ import annotations

import os
import stat

from sqlsentinel.errors import ConfigError, Problem

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # 4 MiB; 1,000 alerts take about 250 KiB
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_config(path: str) -> bytes:
    """The bytes of the config file at `path`; ConfigError when it cannot or must not be read."""
    try:
        _check(path, os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _error(path, "config file not found") from None
    except OSError as exc:
        raise _error(path, f"cannot read config file: {exc.strerror or exc}") from None
    try:
        _check(path, os.fstat(fd).st_mode)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise _error(path, f"cannot read config file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise _error(path, f"config file is larger than {MAX_CONFIG_BYTES // 2**20} MiB")
    return data


def _check(path: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((what for test, what in _KINDS if test(mode)), "not a regular file")
    raise _error(path, f"is {kind}, not a config file")


def _error(path: str, message: str) -> ConfigError:
    return ConfigError([Problem(path, None, "", message)])


def decode_config(data: bytes, path: str) -> str:
    """The config file's text (it must be UTF-8)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(path, None, "", f"config file is not UTF-8: {exc}")]) from None
