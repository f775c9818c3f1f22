"""`silence` and `unsilence`: withhold an alert's (or one instance's) notifications for a while."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime, timedelta

import click

from sqlsentinel.cli.common import config_argument, env_file_option, state_db_option
from sqlsentinel.cli.state_cmds import known_alert, open_state
from sqlsentinel.config.peek import ConfigPeek
from sqlsentinel.durations import parse_duration
from sqlsentinel.errors import UsageError
from sqlsentinel.state.silences import add_silence, end_silences


def _duration(text: str) -> timedelta:
    """`--duration`: `2h`, `30m`, `1d`; a bare number means hours (original SQL Sentinel)."""
    try:
        d = parse_duration(f"{float(text)}h") if _is_number(text) else parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    if d.total_seconds() <= 0:
        raise UsageError("--duration must be more than zero")
    return d


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_KEY_OPTION = click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="COLUMN=VALUE",
    help="Only the instance of a per-row alert with this key value (repeat for each key column).",
)


def _instance(loaded: ConfigPeek | None, alert: str, keys: tuple[str, ...]) -> str | None:
    """The canonical key `--key` names (None: the whole alert)."""
    if not keys:
        return None
    from sqlsentinel.cli.instance_views import canonical_key

    return canonical_key(alert, loaded.keys.get(alert, ()) if loaded else (), keys)


def _named(alert: str, keys: tuple[str, ...]) -> str:
    return f"{alert!r} {' '.join(keys)}" if keys else repr(alert)


@click.command()
@config_argument
@click.option("--alert", "alert", required=True, metavar="NAME", help="The alert to silence.")
@_KEY_OPTION
@click.option("--duration", required=True, help="How long: 2h, 30m, 1d (a bare number is hours).")
@click.option("--reason", default="", help="Why (shown in status).")
@click.option("--by", "by", default=None, help="Who (default: the current user).")
@env_file_option
@state_db_option
def silence(
    config: str,
    alert: str,
    keys: tuple[str, ...],
    duration: str,
    reason: str,
    by: str | None,
    state_db: str | None,
) -> None:
    """Withhold ALERT's notifications for a while; runs and history continue.

    If the alert is still firing when the silence ends, it notifies again. With --key,
    only that instance of a per-row alert is silenced (--key warehouse_id=7).
    """
    db, loaded = open_state(config, state_db)
    known_alert(loaded, alert, config)
    instance = _instance(loaded, alert, keys)
    db.ensure_schema()
    now = datetime.now(UTC)
    end = now + _duration(duration)
    who = by or _user()
    add_silence(db, alert, now, end, reason, who, instance)
    click.echo(f"silenced {_named(alert, keys)} until {end.isoformat(timespec='seconds')} by {who}")


@click.command()
@config_argument
@click.option("--alert", "alert", required=True, metavar="NAME", help="The alert to unsilence.")
@_KEY_OPTION
@env_file_option
@state_db_option
def unsilence(config: str, alert: str, keys: tuple[str, ...], state_db: str | None) -> None:
    """End ALERT's active silences now.

    With --key, only that instance's; without it, every silence of the alert and of its
    instances.
    """
    db, loaded = open_state(config, state_db)
    known_alert(loaded, alert, config)
    instance = _instance(loaded, alert, keys)
    db.ensure_schema()
    n = end_silences(db, alert, datetime.now(UTC), instance)
    named = _named(alert, keys)
    click.echo(f"ended {n} silence(s) of {named}" if n else f"{named} was not silenced")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
