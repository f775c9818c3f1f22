"""Render each alert's systemd `.timer`/`.service` pair: naming, escaping, templates. No I/O.

Names are `sqlsentinel-<slug>-<hash>`: the slug keeps the alert name readable (ASCII
letters and digits, lowercased, runs joined by `-`), the 8-hex-digit hash of the exact
name keeps it unique and stable. Every value placed in a unit is either quoted for
systemd (`"` + C escapes, `%%`, `$$`) or rejected, so no field of an alert can add a
directive, expand a `%` specifier or an environment variable.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jinja2

from sqlsentinel.applied.timetable import Launch, Scheduled
from sqlsentinel.core.budget import unit_timeout
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.errors import SystemdError
from sqlsentinel.redaction import url_has_secret
from sqlsentinel.schedule.jitter import TIMER_ACCURACY, randomized_delay_sec
from sqlsentinel.systemd.install import MARKER, AlertUnits

DESCRIPTION_MAX = 200
_CALENDAR_OK = re.compile(r"[A-Za-z0-9 *:,./~_+-]+")
_PATH_BAD = re.compile(r"[\s\"'\\]")
_BLANK = ("Cc", "Zl", "Zp", "Zs")


@dataclass(frozen=True)
class UnitOptions:
    """What every alert's units share: mode, command, paths."""

    system: bool  # system manager (hardened, DynamicUser) or a user manager
    command: tuple[str, ...]  # argv that starts sqlsentinel, e.g. (python, "-m", "sqlsentinel")
    config_path: str  # absolute
    state_db: str | None = None  # passed as --state-db (must carry no password)
    env_file: str | None = None  # absolute; becomes EnvironmentFile=
    applied: str | None = None  # the applied copy's folder: runs read it (`run --applied`)
    state_url: str | None = None  # the state database runs write (None: the default one)
    writable: tuple[str, ...] = ()  # user mode: the runs' state and cache folders
    sandbox: bool = False  # user mode: PrivateUsers=-based sandbox (systemd.userns)
    static_user: bool = False  # system mode: a `sqlsentinel` user exists (else DynamicUser=)

    @property
    def launch(self) -> Launch:
        """How these units start a tick (the timetable's command lines come from it)."""
        return Launch(self.system, self.command, self.state_db)


def _reject_control(value: str, what: str) -> None:
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
        raise SystemdError(f"{what} {value!r} contains control characters; cannot go in a unit")


def quote_arg(value: str, *, what: str = "argument") -> str:
    """One `ExecStart=` word: double-quoted, C-escaped, `%` and `$` doubled."""
    _reject_control(value, what)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def one_line_text(value: str) -> str:
    """Free text for `Description=`: one line, `%` doubled, no trailing backslash."""
    text = " ".join("".join(" " if unicodedata.category(c) in _BLANK else c for c in value).split())
    if len(text) > DESCRIPTION_MAX:
        text = text[: DESCRIPTION_MAX - 3] + "..."
    return text.rstrip("\\ ").replace("%", "%%")


def plain_path(path: str, what: str) -> str:
    """A bare absolute path for a directive: `%` doubled; spaces, quotes, backslashes refused."""
    if not path.startswith("/") or _PATH_BAD.search(path):
        raise SystemdError(
            f"{what} {path!r} must be an absolute path without spaces, quotes or backslashes"
        )
    _reject_control(path, what)
    return path.replace("%", "%%")


def sqlite_dir(url: str | None) -> str | None:
    """The folder of a SQLite database file URL (it must be writable), else None."""
    if not url or not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    if not path.startswith("/"):
        return None
    return path.rsplit("/", 1)[0] or "/"


_HOME_DIRS = ("/home/", "/root/", "/run/user/")
_TMP_DIRS = ("/tmp/", "/var/tmp/")


def home_protection(paths: tuple[str, ...]) -> str:
    """`ProtectHome=`: `read-only` when one of `paths` lives in a home folder, else `yes`."""
    return "read-only" if any(p.startswith(_HOME_DIRS) for p in paths) else "yes"


def tmp_private(paths: tuple[str, ...]) -> bool:
    """`PrivateTmp=yes` unless one of `paths` (the program, the config, the folders the
    service reads or writes) lives in /tmp or /var/tmp, which a private /tmp would hide."""
    return not any(f"{p.rstrip('/')}/".startswith(_TMP_DIRS) for p in paths)


STATE_DB_PASSWORD = (
    "the state database URL carries a password or another secret parameter, and unit files "
    "are world-readable: put SQLSENTINEL_STATE_DB=URL in the --env-file instead of passing "
    "--state-db"
)


def _service_context(alert: AlertSpec, entry: Scheduled, options: UnitOptions) -> dict[str, object]:
    if options.state_db is not None and url_has_secret(options.state_db):
        raise SystemdError(STATE_DB_PASSWORD)
    exec_start = " ".join(quote_arg(a, what="ExecStart argument") for a in entry.command)
    state_dir = sqlite_dir(options.state_url or options.state_db)
    writable = (*options.writable, *([state_dir] if state_dir else []))
    read_paths = (options.command[0], options.config_path, options.applied or "/", *writable)
    return {
        "description": one_line_text(f'SQL Sentinel alert "{alert.name}"'),
        "exec_start": exec_start,
        "timeout": unit_timeout(alert.timeout),
        "env_file": plain_path(options.env_file, "env file") if options.env_file else None,
        "system": options.system,
        "static_user": options.static_user,
        "sandbox": options.sandbox,
        # user mode: the runs' own folders are in the home, so it is read-only, never hidden
        "protect_home": home_protection(read_paths) if options.system else "read-only",
        "private_tmp": tmp_private(read_paths),
        "read_write": [plain_path(p, "folder the runs write") for p in dict.fromkeys(writable)]
        if options.system or options.sandbox
        else [],
        # the timer's fixed random delay, for the run to know its own elapse (engine.scheduled)
        "timer_offset": f"{entry.timer.offset:.6f}" if entry.jitter > 0 else None,
    }


def render_alert(alert: AlertSpec, entry: Scheduled, options: UnitOptions) -> AlertUnits:
    """Render the timer and service of one alert from its timetable entry (its unit name,
    `OnCalendar=` lines, command line and offset)."""
    on_calendar = entry.on_calendar
    if not on_calendar:
        raise SystemdError(f"alert {alert.name!r}: no OnCalendar= value")
    for value in on_calendar:
        if not _CALENDAR_OK.fullmatch(value):
            raise SystemdError(f"alert {alert.name!r}: unexpected OnCalendar= value {value!r}")
    base = entry.unit
    summary = f'SQL Sentinel alert "{alert.name}"'
    if alert.description:
        summary += f": {alert.description}"
    env = template_environment()
    timer = env.get_template("alert.timer.j2").render(
        marker=MARKER,
        description=one_line_text(summary),
        on_calendar=on_calendar,
        accuracy=f"{TIMER_ACCURACY.seconds}s",
        randomized_delay=randomized_delay_sec(entry.jitter),
        persistent="true" if entry.persistent else "false",
        service=f"{base}.service",
    )
    service = env.get_template("alert.service.j2").render(
        marker=MARKER, identifier=base, **_service_context(alert, entry, options)
    )
    return AlertUnits(alert.name, base, {f"{base}.timer": timer, f"{base}.service": service})


@lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    """The unit templates (`templates/`), rendered as written: no HTML escaping."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sqlsentinel.systemd", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
