"""Read a config file: the one place that opens it (validate, run, install-units, daemon)."""

from __future__ import annotations

from pathlib import Path

from sqlsentinel.errors import ConfigError, Problem


def read_config(path: str) -> bytes:
    """The bytes of the config file at `path`; ConfigError when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(path, None, "", "config file not found")]) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([Problem(path, None, "", f"cannot read config file: {reason}")]) from None


def decode_config(data: bytes, path: str) -> str:
    """The config file's text (it must be UTF-8)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(path, None, "", f"config file is not UTF-8: {exc}")]) from None
