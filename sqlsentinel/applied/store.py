"""The applied config: the validated copy of a config file that the timers and the daemon run.

`install-units` and the daemon apply a config only after it validated (`applied.accept`):
they copy its bytes here, with its timetable (what runs, and when: `applied.timetable`)
and their metadata (source, SHA-256, when, the fallbacks it was loaded with), and the
units run `sqlsentinel run CONFIG --applied DIR`. Editing the file changes nothing until
it is applied again; an edit that does not validate is recorded as rejected (since when,
the first error) and never copied.

Layout: `<state dir>/applied/<16 hex digits of the config path's SHA-256>/` holding
`config.yaml`, `timetable.json` and `applied.json`, written in that order: the metadata
names the copy (its SHA-256) and the timetable names the copy it belongs to, so a reader
never takes one file's version for another's. The folder is private (0700, files 0600).
When root applies a config in a state directory another user owns (the service user's, on
a packaged host), the copy is root's, readable by that user's group (0750, files 0640): the
services read it, and nobody but root can replace the config root itself falls back to.
Root reads such a copy only when root wrote it, and never through a link
(sqlsentinel/safedir.py). The SHA-256 comes from `sqlsentinel.digest` (no OpenSSL): every
tick checks its copy.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlsentinel.config.fallbacks import Fallbacks
from sqlsentinel.config.read import MAX_CONFIG_BYTES
from sqlsentinel.digest import sha256 as digest
from sqlsentinel.errors import ConfigError, Problem, StateDBError
from sqlsentinel.safedir import Dir, open_dir

if TYPE_CHECKING:
    from sqlsentinel.applied.timetable import Timetable

SNAPSHOT = "config.yaml"
META = "applied.json"
TIMETABLE = "timetable.json"
MAX_META_BYTES = 1024 * 1024
MAX_TIMETABLE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Rejection:
    """The latest edit that did not validate."""

    sha256: str
    since: datetime  # when the file became invalid (the first of a row of bad edits)
    error: str  # the first problem, `alerts.yaml:14: field: message` (the file's base name)
    count: int  # how many problems


@dataclass(frozen=True)
class AppliedMeta:
    """What is applied for one config file, and the latest rejected edit."""

    source: str
    sha256: str | None  # None: nothing applied yet
    applied_at: datetime | None
    fallbacks: Fallbacks
    rejected: Rejection | None

    def describe(self, on_disk: bytes | None) -> str:
        """Whether the file on disk is what is applied, and if not, why."""
        if on_disk is None:
            return "the file cannot be read"
        sha = digest(on_disk)
        if sha == self.sha256:
            return "the file on disk is the applied config"
        if self.rejected is not None and self.rejected.sha256 == sha:
            since = self.rejected.since.strftime("%Y-%m-%d %H:%M UTC")
            return f"the file on disk is invalid since {since}: {self.rejected.error}"
        return "the file on disk was edited and is not applied yet"


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _meta_from_json(data: dict[str, Any]) -> AppliedMeta:
    r = data.get("rejected")
    rejected = None
    if isinstance(r, dict):
        since = datetime.fromisoformat(r["since"])
        rejected = Rejection(r["sha256"], since, r["error"], int(r.get("count", 1)))
    return AppliedMeta(
        source=str(data["source"]),
        sha256=data.get("sha256"),
        applied_at=_time(data.get("applied_at")),
        fallbacks=Fallbacks.from_json(data.get("fallbacks"), os.path.dirname(str(data["source"]))),
        rejected=rejected,
    )


def _meta_to_json(meta: AppliedMeta) -> dict[str, Any]:
    r = meta.rejected
    return {
        "version": 1,
        "source": meta.source,
        "sha256": meta.sha256,
        "applied_at": meta.applied_at.isoformat() if meta.applied_at else None,
        "fallbacks": meta.fallbacks.to_json(),
        "rejected": None
        if r is None
        else {"sha256": r.sha256, "since": r.since.isoformat(), "error": r.error, "count": r.count},
    }


class AppliedStore:
    """The applied copy of one config file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_config(cls, config: str, state_dir: Path) -> AppliedStore:
        """The store of `config` (by its absolute path) under `state_dir`."""
        key = digest(os.path.abspath(config).encode())[:16]
        return cls(state_dir / "applied" / key)

    def meta(self) -> AppliedMeta | None:
        """The recorded metadata, or None when nothing was recorded (or it is unreadable, or
        not root's where root must have written it)."""
        try:
            with open_dir(self.folder) as folder:
                text = folder.read(META, MAX_META_BYTES, root_only=True)
            return _meta_from_json(json.loads(text))
        except (OSError, StateDBError, ValueError, KeyError, TypeError):
            return None

    def read(self, config: str) -> tuple[bytes, Fallbacks]:
        """The applied bytes and fallbacks; ConfigError naming `config` when there are none
        (StateDBError when the copy is not one root may trust)."""
        meta = self.meta()
        try:
            with open_dir(self.folder) as folder:
                data: bytes | None = folder.read(SNAPSHOT, MAX_CONFIG_BYTES, root_only=True)
        except OSError as exc:
            data, reason = None, exc.strerror or str(exc)
        else:
            reason = "its metadata is missing" if meta is None else "it does not match"
        if meta is None or data is None or digest(data) != meta.sha256:
            message = f"no applied copy in {self.folder} ({reason}); run install-units again"
            raise ConfigError([Problem(config, None, "", message)])
        if meta.fallbacks.workdir is None:  # applied without one: paths from its folder
            return data, replace(meta.fallbacks, workdir=os.path.dirname(meta.source))
        return data, meta.fallbacks

    def snapshot(self) -> bytes | None:
        """The applied copy's bytes as stored (unchecked), None when there is none."""
        try:
            with open_dir(self.folder) as folder:
                return folder.read(SNAPSHOT, MAX_CONFIG_BYTES, root_only=True)
        except (OSError, StateDBError):
            return None

    def timetable(self, meta: AppliedMeta | None) -> Timetable | None:
        """The timetable of the copy `meta` names; None when there is none for it (nothing
        applied, or applied by a version that wrote none) or it cannot be read."""
        from sqlsentinel.applied.timetable import Timetable

        if meta is None or meta.sha256 is None:
            return None
        try:
            with open_dir(self.folder) as folder:
                data = folder.read(TIMETABLE, MAX_TIMETABLE_BYTES, root_only=True)
            table = Timetable.from_bytes(data)
        except (OSError, StateDBError, ValueError, KeyError, TypeError):
            return None
        return table if table.sha256 == meta.sha256 else None

    def save(
        self,
        data: bytes,
        source: str,
        fallbacks: Fallbacks,
        now: datetime,
        timetable: Timetable | None = None,
    ) -> AppliedMeta:
        """Record `data` as applied (it validated): the copy, its timetable, then its metadata."""
        meta = AppliedMeta(os.path.abspath(source), digest(data), now, fallbacks, None)
        self._write({SNAPSHOT: data})
        if timetable is not None:
            self._write({TIMETABLE: timetable.to_bytes()})
        self._write_meta(meta)
        return meta

    def save_timetable(self, timetable: Timetable) -> None:
        """Write the timetable of the copy applied before (`Timetable.sha256` names it)."""
        self._write({TIMETABLE: timetable.to_bytes()})

    def reject(
        self, data: bytes | None, source: str, problems: list[Problem], now: datetime
    ) -> None:
        """Record an edit that did not validate (`data` None: the file cannot be read);
        what is applied stays as it was."""
        old = self.meta() or AppliedMeta(os.path.abspath(source), None, None, Fallbacks(), None)
        since = old.rejected.since if old.rejected is not None else now
        first = problems[0] if problems else Problem(source, None, "", "invalid")
        error = str(Problem(os.path.basename(first.source), first.line, first.path, first.message))
        sha = digest(data) if data is not None else ""
        rejected = Rejection(sha, since.astimezone(UTC), error, len(problems))
        meta = AppliedMeta(old.source, old.sha256, old.applied_at, old.fallbacks, rejected)
        self._write_meta(meta)

    def clear_rejection(self) -> AppliedMeta | None:
        """The file is the applied copy again (a bad edit was undone): forget the rejection.
        Returns the metadata as it now is."""
        meta = self.meta()
        if meta is None or meta.rejected is None:
            return meta
        meta = AppliedMeta(meta.source, meta.sha256, meta.applied_at, meta.fallbacks, None)
        self._write_meta(meta)
        return meta

    def _write(self, files: dict[str, bytes]) -> None:
        """Write files of the copy, creating its folders: private to the current user, or
        root's, readable by the owner's group, in a state directory another user owns."""
        try:
            with open_dir(self.folder.parent.parent, create=True) as state:
                guarded = state.guarded
                mode = 0o750 if guarded else 0o700
                with (
                    _child(state, "applied", mode) as applied,
                    _child(applied, self.folder.name, mode) as own,
                ):
                    for name, data in files.items():
                        own.write(name, data, 0o640 if guarded else 0o600)
        except OSError as exc:
            raise StateDBError(
                f"cannot write the applied copy in {self.folder}: {exc.strerror or exc}"
            ) from None

    def _write_meta(self, meta: AppliedMeta) -> None:
        text = json.dumps(_meta_to_json(meta), indent=1, sort_keys=True)
        self._write({META: text.encode()})


def _child(folder: Dir, name: str, mode: int) -> Dir:
    """Subfolder `name`, made root's where root writes in another user's state directory."""
    sub = folder.child(name, create=True, mode=mode)
    try:
        sub.take(mode)
    except BaseException:
        sub.close()
        raise
    return sub
