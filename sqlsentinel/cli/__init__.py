"""The `sqlsentinel` command: a lazy click group so each command imports only what it needs."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from sqlsentinel import __version__
from sqlsentinel.errors import ConfigError, ExitCode, SentinelError

# name -> "module:attribute". Modules load only when their command runs; each command's
# help is its docstring (the first line is the one-line help `sqlsentinel --help` lists).
COMMANDS: dict[str, str] = {
    "init": "sqlsentinel.cli.state_cmds:init",
    "validate": "sqlsentinel.cli.config_cmds:validate",
    "run": "sqlsentinel.cli.run_cmd:run",
    "status": "sqlsentinel.cli.state_cmds:status",
    "history": "sqlsentinel.cli.state_cmds:history",
    "deliveries": "sqlsentinel.cli.state_cmds:deliveries",
    "silence": "sqlsentinel.cli.silence_cmds:silence",
    "unsilence": "sqlsentinel.cli.silence_cmds:unsilence",
    "healthcheck": "sqlsentinel.cli.health_cmds:healthcheck",
    "metrics": "sqlsentinel.cli.health_cmds:metrics",
    "schedule": "sqlsentinel.cli.config_cmds:schedule",
    "notify-test": "sqlsentinel.cli.notify_test_cmd:notify_test",
    "install-units": "sqlsentinel.cli.units_cmd:install_units",
    "uninstall-units": "sqlsentinel.cli.units_cmd:uninstall_units",
    "daemon": "sqlsentinel.cli.daemon_cmd:daemon",
    "install-daemon": "sqlsentinel.cli.units_cmd:install_daemon",
    "uninstall-daemon": "sqlsentinel.cli.units_cmd:uninstall_daemon",
    "reload": "sqlsentinel.cli.daemon_cmd:reload_daemon",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, _, attribute = spec.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sqlsentinel")
def cli() -> None:
    """SQL Sentinel: SQL-first alerting on the operating system's own scheduler.

    Exit codes: 0 ok, 1 a check failed, 2 usage error, 3 invalid config,
    4 state database error, 5 notification delivery failed, 6 unhealthy,
    7 systemd error, 70 internal error. See docs/cli.md.
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI and map errors to messages and documented exit codes."""
    from sqlsentinel.cli.common import say

    try:
        code = cli.main(args=argv, prog_name="sqlsentinel", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        code = ExitCode.CHECK_FAILED
    except ConfigError as exc:
        for problem in exc.problems:
            say("error", problem)
        code = exc.exit_code
    except SentinelError as exc:
        say("error", exc)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        if os.environ.get("SQLSENTINEL_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "(this is a bug; set SQLSENTINEL_DEBUG=1 for a traceback and please report it)",
            err=True,
        )
        code = ExitCode.INTERNAL
    sys.exit(int(code or 0))
