"""The timetable: what runs on this host, and when, as the apply step wrote it.

For every alert that runs: its unit name, `OnCalendar=` lines, its timer (cron, calendar
zone, minute shift, this host's jitter offset: `schedule.timer.Timer`), `persistent`, its
stale grace and the one command line a tick runs. Written beside the applied copy at each
apply (`applied.accept`), read by the unit renderer, the daemon's backends, the stale
check and `status`/`healthcheck`/`metrics`, which so need neither the validator nor the
caller's environment. The JSON is versioned and documented in docs/timetable.md; reading
it imports nothing of the validator.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlsentinel.config.peek import ConfigPeek
from sqlsentinel.dburl import resolve_sqlite
from sqlsentinel.errors import ConfigError
from sqlsentinel.schedule.timer import Timer

FORMAT = "sqlsentinel-timetable"
VERSION = 1


@dataclass(frozen=True)
class Launch:
    """How this host's timers start a tick: whose manager they are in (the jitter offsets
    depend on it) and the program they run."""

    system: bool
    program: tuple[str, ...]  # argv that starts sqlsentinel, e.g. (python, "-m", "sqlsentinel")
    state_db: str | None = None  # passed as --state-db (never a URL with a secret)

    def command(self, config: str, applied: str | None, alert: str) -> tuple[str, ...]:
        """The one command line of a tick of `alert` (of the copy applied in `applied`)."""
        argv = [*self.program, "run", config]
        if applied is not None:
            argv += ["--applied", applied]
        argv += ["--alert", alert, "--triggered-by", "CRON"]
        if self.state_db is not None:
            argv += ["--state-db", self.state_db]
        return tuple(argv)


@dataclass(frozen=True)
class Scheduled:
    """One alert that runs: when, and how."""

    name: str
    unit: str  # the stem of its `.timer` and `.service`
    timer: Timer
    timezone: str  # as configured (the timer's own zone is `timer.calendar_zone`)
    on_calendar: tuple[str, ...]
    jitter: float
    persistent: bool
    stale_grace: float  # seconds after a tick without a run before it is stale
    command: tuple[str, ...]
    key: tuple[str, ...]  # a per-row alert's key columns (empty: one row)
    max_instances: int
    broken: str | None = None  # its settings stopped validating: it runs what it ran before

    def to_json(self) -> dict[str, Any]:
        """Its entry of the timetable's `alerts` (docs/timetable.md)."""
        rest = {k: v for k, v in vars(self).items() if k not in ("name", "unit", "timer")}
        plain = {k: list(v) if isinstance(v, tuple) else v for k, v in rest.items()}
        return {"name": self.name, "unit": self.unit, **self.timer.to_json(), **plain}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Scheduled:
        """Inverse of `to_json`."""
        return cls(
            name=str(d["name"]),
            unit=str(d["unit"]),
            timer=Timer.from_json(dict(d)),
            timezone=str(d["timezone"]),
            on_calendar=tuple(map(str, d["on_calendar"])),
            jitter=float(d["jitter"]),
            persistent=bool(d["persistent"]),
            stale_grace=float(d["stale_grace"]),
            command=tuple(map(str, d["command"])),
            key=tuple(map(str, d["key"])),
            max_instances=int(d["max_instances"]),
            broken=None if d.get("broken") is None else str(d["broken"]),
        )


@dataclass(frozen=True)
class Unscheduled:
    """An alert of the config that does not run: `disabled`, or `broken` (never validated)."""

    name: str
    reason: str
    key: tuple[str, ...]
    max_instances: int

    def to_json(self) -> dict[str, Any]:
        """Its entry of the timetable's `not_scheduled`."""
        return {**vars(self), "key": list(self.key)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Unscheduled:
        """Inverse of `to_json`."""
        key = tuple(map(str, d["key"]))
        return cls(str(d["name"]), str(d["reason"]), key, int(d["max_instances"]))


@dataclass(frozen=True)
class Timetable:
    """What runs for one config file on this host, and when."""

    config: str  # absolute path
    sha256: str | None  # the applied copy it belongs to (None: computed from an unapplied file)
    applied_at: datetime | None  # an alert that never ran is expected from its first tick after
    system: bool  # the manager whose jitter offsets these are
    alerts: tuple[Scheduled, ...]
    not_scheduled: tuple[Unscheduled, ...] = ()
    state_db: str | None = None  # `state_db:` as written (`${VAR}` unresolved)
    state_db_line: int | None = None
    workdir: str | None = None  # where the applier read relative SQLite paths from

    def entry(self, name: str) -> Scheduled | None:
        """The alert called `name`, if it runs."""
        return next((a for a in self.alerts if a.name == name), None)

    def peek(self, source: str, environ: Mapping[str, str]) -> ConfigPeek:
        """What a state command needs of the config (`config.peek`), from this timetable:
        the state database (its variables from `environ`), names, schedules, keys, caps."""
        everyone: list[Scheduled | Unscheduled] = [*self.alerts, *self.not_scheduled]
        return ConfigPeek(
            source,
            self._state_db(source, environ),
            tuple(a.name for a in everyone),
            tuple((a.name, a.timer.cron, a.timezone) for a in self.alerts),
            {a.name: a.key for a in everyone if a.key},
            {a.name: a.max_instances for a in everyone},
        )

    def _state_db(self, source: str, environ: Mapping[str, str]) -> str | None:
        if self.state_db is None:
            return None
        from sqlsentinel.config.envsubst import substitute
        from sqlsentinel.config.parsed import Parsed

        line: dict[tuple[str | int, ...], int] = {}
        if self.state_db_line is not None:
            line[("state_db",)] = self.state_db_line
        parsed = Parsed({"state_db": self.state_db}, line)
        substitute(parsed, environ, source)
        if parsed.problems:
            raise ConfigError(parsed.problems)
        url = str(parsed.data["state_db"])
        folder = Path(self.config).resolve().parent
        return resolve_sqlite(url, Path(self.workdir or folder), folder) if url else None

    def to_json(self) -> dict[str, Any]:
        """The documented JSON (docs/timetable.md)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "config": self.config,
            "sha256": self.sha256,
            "applied_at": None if self.applied_at is None else self.applied_at.isoformat(),
            "manager": "system" if self.system else "user",
            "state_db": self.state_db,
            "state_db_line": self.state_db_line,
            "workdir": self.workdir,
            "alerts": [a.to_json() for a in self.alerts],
            "not_scheduled": [a.to_json() for a in self.not_scheduled],
        }

    def to_bytes(self) -> bytes:
        """`to_json` as the file holds it."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Timetable:
        """Inverse of `to_json`; ValueError for another format or an unknown version."""
        if d.get("format") != FORMAT or d.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} of version {VERSION}")
        applied_at = d.get("applied_at")
        return cls(
            config=str(d["config"]),
            sha256=None if d.get("sha256") is None else str(d["sha256"]),
            applied_at=None if applied_at is None else datetime.fromisoformat(applied_at),
            system=d["manager"] == "system",
            alerts=tuple(Scheduled.from_json(a) for a in d["alerts"]),
            not_scheduled=tuple(Unscheduled.from_json(a) for a in d.get("not_scheduled", ())),
            state_db=None if d.get("state_db") is None else str(d["state_db"]),
            state_db_line=d.get("state_db_line"),
            workdir=None if d.get("workdir") is None else str(d["workdir"]),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Timetable:
        """Inverse of `to_bytes` (ValueError, KeyError or TypeError when it is not one)."""
        return cls.from_json(json.loads(data))
