"""What commands share: the config argument, --json, --state-db, output and loading.

Everything a command prints or logs goes through `sqlsentinel.redaction.redact` here
(`emit`, `say`, `log_to_stderr`), so no secret reaches a terminal or the journal."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sqlsentinel.cli.table import Columns, json_text, printable, render, terminal_width
from sqlsentinel.jsonsafe import to_jsonable
from sqlsentinel.redaction import redact

if TYPE_CHECKING:
    from sqlsentinel.applied.store import AppliedStore

F = TypeVar("F", bound=Callable[..., Any])

# No checks here: reading the file (config.read) says what is wrong with it, with exit 3.
CONFIG_PATH = click.Path(readable=False)
config_argument = click.argument("config", type=CONFIG_PATH)


class Seconds(click.FloatRange):
    """A number of seconds in (0, `high`]: `nan` and `inf` are usage errors too."""

    name = "number of seconds"

    def __init__(self, high: float) -> None:
        super().__init__(0, high, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return number


def json_option(f: F) -> F:
    """`--json`: machine-readable output instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


def manager_option(f: F) -> F:
    """`--system/--user`: which systemd manager (None: the system one for root, else yours)."""
    return click.option(
        "--system/--user",
        "system",
        default=None,
        help="The system manager (default for root) or your user manager (default otherwise).",
    )(f)


def state_db_option(f: F) -> F:
    """`--state-db URL`: override the state database."""
    return click.option(
        "--state-db",
        metavar="URL",
        envvar="SQLSENTINEL_STATE_DB",
        help="State database URL (overrides the config; env SQLSENTINEL_STATE_DB).",
    )(f)


DATABASE_URL_HELP = (
    "Alert database when the config names none; overrides its database: (env DATABASE_URL "
    "is used only where the config names none)."
)


def database_url_option(f: F) -> F:
    """`--database-url URL`: read by `fallbacks()`, as every command that loads a config does."""
    return click.option(
        "--database-url",
        metavar="URL",
        expose_value=False,
        callback=_keep_database_url,
        help=DATABASE_URL_HELP,
    )(f)


_DATABASE_URL = "sqlsentinel.database_url"


def _keep_database_url(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta[_DATABASE_URL] = value


def fallbacks(**rest: Any) -> Any:
    """What loading falls back on for this command (config.fallbacks.Fallbacks.here):
    `--database-url` when given, else DATABASE_URL; relative paths read from here."""
    from sqlsentinel.config.fallbacks import Fallbacks

    ctx = click.get_current_context(silent=True)
    given = None if ctx is None else ctx.meta.get(_DATABASE_URL)
    return Fallbacks.here(os.environ, given, **rest)


def env_file_option(f: F) -> F:
    """`--env-file PATH`: read the services' environment file first (config.env_file).

    Eager, so `--state-db`'s SQLSENTINEL_STATE_DB and everything after it see its values.
    """
    from sqlsentinel.config.env_file import SYSTEM_ENV_FILE, USER_ENV_FILE

    return click.option(
        "--env-file",
        metavar="PATH",
        is_eager=True,
        expose_value=False,
        callback=_read_env_file,
        help="Variables of the services' environment file (EnvironmentFile= syntax) for the "
        "variables not set here. Default: "
        f"{SYSTEM_ENV_FILE} (root) or ~/{USER_ENV_FILE}, where it exists and is readable; "
        "none in a systemd service; '' for none.",
    )(f)


def _read_env_file(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from sqlsentinel.config.env_file import default_env_file, readable_default

    path = default_env_file(os.environ) if value is None else value or None
    if path is None:
        return
    if value is None and not readable_default(path, lambda message: say("warning", message)):
        return
    read_into_environment(path)


def read_into_environment(path: str) -> list[str]:
    """Fill this process's environment from the env file at `path` (warning for each line
    systemd would ignore); the names it sets."""
    from sqlsentinel.config.env_file import fill_environment, read_env_file

    env_file = read_env_file(path)
    for problem in env_file.ignored:
        say("warning", problem)
    fill_environment(env_file, os.environ)
    return list(env_file.values)


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Columns,
    as_json: bool,
    empty: str = "(nothing to show)",
    *,
    wide: bool = False,
) -> None:
    """Print rows as JSON (a list of objects) or as a table of `columns` (cli/table.py:
    fitted to the terminal unless `wide`).

    Every text goes through `redact`. A reader that closes the pipe early (`| head`) does
    not change the command's exit code.
    """
    try:
        if as_json:
            click.echo(json_text(_redacted(to_jsonable(list(rows)))))
        elif not rows:
            click.echo(empty)
        else:
            width = terminal_width()
            for line in render(rows, columns, wide=wide, width=width, redact=redact):
                click.echo(line)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return printable(redact(super().format(record)), lines=True)


def log_to_stderr(level: int) -> None:
    """Log lines (`sqlsentinel: …`) on stderr, the journal under systemd; secrets redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Redacting("sqlsentinel: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def say(kind: str, message: object) -> None:
    """`kind: message` on stderr (`error`, `warning`), secrets redacted."""
    click.echo(f"{kind}: {printable(redact(str(message)), lines=True)}", err=True)


def load_config(path: str, *, show_warnings: bool = False, allow_broken: bool = False) -> Any:
    """Load and validate `path` (raises ConfigError); optionally print its warnings.

    A config with a broken alert (config.isolate) is refused unless `allow_broken`.
    """
    from sqlsentinel.config.loader import load_file
    from sqlsentinel.errors import ConfigError

    loaded = load_file(path, None, fallbacks())
    if show_warnings:
        for w in loaded.warnings:
            say("warning", w)
    if loaded.broken and not allow_broken:
        raise ConfigError(loaded.broken_problems())
    return loaded


def applied_store(config: str) -> AppliedStore:
    """Where CONFIG's applied copy lives: under the state directory (docs/systemd.md)."""
    from sqlsentinel.applied.store import AppliedStore
    from sqlsentinel.state.location import state_dir

    return AppliedStore.for_config(config, state_dir(os.environ))
