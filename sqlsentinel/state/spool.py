"""Run results a run could not write in time, kept until the next run of the alert records them.

When the state database stays busy or unreachable past a run's deadline, the run saves
its `RunRecord` here (one private JSON file, written atomically) instead of losing it;
the next run of the same alert, on the same state database and from the same config,
records every saved result first, oldest first, marked `spooled` in history, and only then
deletes the file. A run id already in history (recorded just before a crash) is simply
deleted.

Each (state database, config, alert) has its own folder, and each file names all three:
a file is recorded only where it belongs. Only regular files of at most MAX_FILE_BYTES
are read, never through a link (so a named pipe or a link to /dev/zero cannot hang a run);
one that cannot be read or does not hold a valid record is moved aside as `NAME.bad` and
logged, never tried again. When a result cannot be kept either (a full disk), the error
says so and carries the result, so the journal still has it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlsentinel.core.outcomes import ALL_OUTCOMES
from sqlsentinel.core.run import RunRecord
from sqlsentinel.core.severity import stored_severity
from sqlsentinel.digest import digest
from sqlsentinel.errors import StateDBError
from sqlsentinel.jsonsafe import to_jsonable
from sqlsentinel.safedir import Dir, UnsafePath, open_dir

FORMAT = 2  # 1: keyed by the alert's name alone (shared by every config and state database)
MAX_FILE_BYTES = 16 * 1024 * 1024  # a keyed alert's 1,000 instances with context fit easily
_INSTANTS = {f.name for f in fields(RunRecord) if f.name.endswith("_at")}
_REQUIRED = {"run_id", "alert", "triggered_by", "started_at", "finished_at", "outcome"}
_CONDITIONS = {"ok", "alert", "error", "keep"}
log = logging.getLogger("sqlsentinel.run")


@dataclass(frozen=True)
class Spool:
    """The spool of one config's alerts on one state database."""

    root: Path  # <state directory>/spool
    state_db: str  # the state database, as `StateDB.identity` names it
    config: str  # the config's absolute path

    def save(self, rec: RunRecord) -> Path:
        """Keep `rec` for the next run of its alert; returns the file (OSError, StateDBError
        when it cannot be written)."""
        data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(rec).items()}
        data.update(format=FORMAT, state_db=self.state_db, config=self.config)
        name = f"{rec.finished_at.strftime('%Y%m%dT%H%M%S%f')}-{rec.run_id}.json"
        with self._folder(rec.alert, create=True) as folder:
            folder.write(name, json.dumps(to_jsonable(data)).encode(), 0o600, give=True)
        return self.folder(rec.alert) / name

    def folder(self, alert: str) -> Path:
        """The folder of `alert`'s saved results."""
        return self.root / self._key(alert)

    def keep(self, rec: RunRecord) -> str:
        """Save `rec`, and say where; or, when it cannot be saved, that it is lost, with it."""
        try:
            return f"the result of this run is kept in {self.save(rec)}"
        except (OSError, StateDBError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return (
                f"the result of this run is lost: it cannot be kept in {self.root} either "
                f"({why}); it was outcome={rec.outcome} actual_value={rec.actual_value!r} "
                f"finished_at={rec.finished_at.isoformat()} run_id={rec.run_id}"
            )

    def waiting(self, alert: str) -> list[tuple[str, RunRecord]]:
        """The saved results of `alert`, oldest first; files that are not valid records of
        it are moved aside."""
        try:
            folder = self._folder(alert, create=False)
        except FileNotFoundError:
            return []
        with folder:
            out = []
            for name in sorted(n for n in folder.names() if n.endswith(".json")):
                try:
                    out.append((name, self._load(folder, name, alert)))
                except (OSError, UnsafePath, ValueError, TypeError, KeyError) as exc:
                    _set_aside(folder, name, exc)
            return out

    def remove(self, alert: str, name: str) -> None:
        """Delete a saved result once it is recorded."""
        with self._folder(alert, create=False) as folder:
            folder.unlink(name)

    def _key(self, alert: str) -> str:
        return digest(str(FORMAT).encode(), self.state_db.encode(), self.config.encode(),
                      alert.encode(), size=12)  # fmt: skip

    def _folder(self, alert: str, *, create: bool) -> Dir:
        with (
            open_dir(self.root.parent, create=create) as state,
            state.child(self.root.name, create=create) as spool,
        ):
            if create:
                spool.give()  # root made it in the service user's folder: theirs
            folder = spool.child(self._key(alert), create=create)
        if create:
            folder.give()
        return folder

    def _load(self, folder: Dir, name: str, alert: str) -> RunRecord:
        data = json.loads(folder.read(name, MAX_FILE_BYTES))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        where = (data.pop("format", None), data.pop("state_db", None), data.pop("config", None))
        if where != (FORMAT, self.state_db, self.config) or data.get("alert") != alert:
            raise ValueError(f"not a result of {alert!r} on this state database and config")
        return _record(data)


def _record(data: dict[str, Any]) -> RunRecord:
    """A RunRecord from its JSON form; ValueError or TypeError when a field is not valid."""
    missing = _REQUIRED - {k for k, v in data.items() if v is not None}
    if missing:
        raise ValueError(f"missing {', '.join(sorted(missing))}")
    for k in ("run_id", "alert", "triggered_by", "outcome", "condition", "error"):
        if data.get(k) is not None and not isinstance(data[k], str):
            raise ValueError(f"{k} is not text")
    if data["outcome"] not in ALL_OUTCOMES or data.get("condition") not in _CONDITIONS:
        raise ValueError(f"unknown outcome {data['outcome']!r} or condition")
    if data["triggered_by"] not in ("MANUAL", "CRON"):
        raise ValueError(f"unknown triggered_by {data['triggered_by']!r}")
    if data.get("context") is not None and not isinstance(data["context"], dict):
        raise ValueError("context is not an object")
    data.update({k: _instant(data[k]) for k in _INSTANTS if data.get(k) is not None})
    data["severity"] = stored_severity(data.get("severity"))
    if data.get("instances") is not None:  # a keyed alert's rows
        from sqlsentinel.core.instances import Instance

        if not isinstance(data["instances"], list):
            raise ValueError("instances is not a list")
        data["instances"] = tuple(
            Instance(**{**i, "severity": stored_severity(i.get("severity"))})
            for i in data["instances"]
        )
    return RunRecord(**data)


def _instant(value: Any) -> datetime:
    parsed = datetime.fromisoformat(value)  # TypeError for a non-string
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed


def _set_aside(folder: Dir, name: str, exc: Exception) -> None:
    """Move an unusable file out of the way (`NAME.bad`), once, saying why."""
    try:
        folder.rename(name, f"{name}.bad")
    except OSError as err:
        log.warning("spool: cannot set aside %s: %s", folder.path / name, err.strerror or err)
        return
    log.warning("spool: set aside %s.bad: %s", folder.path / name, exc)
