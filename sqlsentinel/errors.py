"""Typed errors and the documented exit codes they map to (see docs/cli.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes. Stable: scripts and systemd rely on them."""

    OK = 0
    CHECK_FAILED = 1  # a query failed, timed out or broke the result contract
    USAGE = 2  # bad command line (click's own code)
    CONFIG = 3  # the config file is missing or invalid
    STATE_DB = 4  # the state database cannot be opened or written
    DELIVERY_FAILED = 5  # every check ran, but a notification could not be delivered
    UNHEALTHY = 6  # healthcheck found a problem
    SYSTEMD = 7  # systemctl / unit installation failed
    INTERNAL = 70  # a bug: please report it


class SentinelError(Exception):
    """Base of every error the CLI turns into a message and an exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is, which field, and what is wrong."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ConfigError(SentinelError):
    """The configuration is invalid; carries every problem found."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StateDBError(SentinelError):
    """The state database could not be opened, created or written."""

    exit_code = ExitCode.STATE_DB


class UsageError(SentinelError):
    """A command was called with arguments that do not fit the config."""

    exit_code = ExitCode.USAGE


class SystemdError(SentinelError):
    """systemctl or unit installation failed."""

    exit_code = ExitCode.SYSTEMD
