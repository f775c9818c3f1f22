"""`sqlsentinel notify-test`: send a test message through an alert's channels."""

from __future__ import annotations

import logging
import sys

import click

from sqlsentinel.cli.common import (
    config_argument,
    database_url_option,
    emit,
    env_file_option,
    json_option,
    load_config,
    log_to_stderr,
)
from sqlsentinel.errors import ConfigError, ExitCode, UsageError

COLUMNS = ("channel", "target", "outcome", "attempts", "detail")


@click.command("notify-test")
@config_argument
@env_file_option
@database_url_option
@click.option(
    "--alert", "name", required=True, metavar="NAME", help="The alert whose channels to test."
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be sent to each target; send nothing."
)
@json_option
def notify_test(config: str, name: str, dry_run: bool, as_json: bool) -> None:
    """Send a test message (reason `test`) through every notify target of alert NAME.

    Reports per target what happened, retrying transient failures briefly. With
    --dry-run, shows each message instead (secrets redacted; use --json for the
    full bodies). Exits 0 when every target accepted the message, 5 otherwise.
    Nothing is written to the state database.
    """
    log_to_stderr(logging.WARNING)
    from sqlsentinel.notify.synthetic import send_test

    loaded = load_config(config, allow_broken=True)  # another alert's problem is not ours
    if name in loaded.broken:
        raise ConfigError(list(loaded.broken[name]))
    alert = loaded.alert(name)
    if alert is None:
        from sqlsentinel.config.run_loader import unknown_alert

        raise UsageError(unknown_alert(name, [a.name for a in loaded.alerts], config))
    if not alert.notify:
        raise UsageError(f"alert {name!r} has no notify: targets to test")
    reports = send_test(alert, loaded.settings.smtp, dry_run=dry_run)
    rows = [
        {
            "channel": r.channel,
            "target": r.target,
            "outcome": r.outcome,
            "attempts": r.attempts,
            "detail": r.detail,
            **({"would_send": r.preview} if r.preview is not None else {}),
        }
        for r in reports
    ]
    emit(rows, COLUMNS, as_json)
    if dry_run and not as_json:
        for r in reports:
            if r.preview and "error" not in r.preview:
                click.echo(f"\n--- {r.target}")
                click.echo(_show(r.preview))
    if any(r.outcome not in {"delivered", "dry_run"} for r in reports):
        sys.exit(int(ExitCode.DELIVERY_FAILED))


def _show(preview: dict[str, object]) -> str:
    """A readable rendering of one preview: text parts as text, the rest as JSON."""
    import json

    from sqlsentinel.jsonsafe import to_jsonable

    lines = []
    for key, value in preview.items():
        if key in {"channel", "target", "html"}:
            continue
        if isinstance(value, str) and "\n" in value:
            lines.append(f"{key}:\n{value}")
        else:
            lines.append(f"{key}: {json.dumps(to_jsonable(value), ensure_ascii=False, indent=2)}")
    return "\n".join(lines)
