"""What is applied for one config file, as `status`, `healthcheck` and `metrics` read it.

Each file of the applied copy is read at most once, and nothing of the validator (pydantic,
PyYAML, jinja2) is imported while a timetable answers: when the file on disk is the
applied copy, even its state database and alert names come from the timetable; the
stale check always takes what runs from it, whatever the caller's environment. Only
without a timetable (a config never applied, or applied by a version that wrote none)
is a config validated here, in this environment, with a warning for every alert that
cannot be loaded: it is then missing from the stale check, never silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlsentinel.applied.store import AppliedMeta, AppliedStore
from sqlsentinel.applied.timetable import Timetable
from sqlsentinel.config.fallbacks import Fallbacks
from sqlsentinel.config.peek import ConfigPeek
from sqlsentinel.config.read import read_config
from sqlsentinel.digest import sha256
from sqlsentinel.errors import ConfigError, StateDBError
from sqlsentinel.state.location import state_dir

if TYPE_CHECKING:
    from sqlsentinel.config.loader import LoadedConfig

Warn = Callable[[str], None]
NO_TIMETABLE = (
    "{config} was applied without a timetable: apply it again (install-units or the daemon); "
    "until then its applied copy is checked as it loads here"
)


class Current:
    """The applied copy of `config` (by its path) for this user: metadata and timetable."""

    def __init__(
        self, config: str, environ: Mapping[str, str], fallbacks: Fallbacks | None = None
    ) -> None:
        self.config, self.environ, self.fallbacks = config, environ, fallbacks

    @cached_property
    def store(self) -> AppliedStore | None:
        """Where the copy lives (None: this user has no state folder, so nothing is applied)."""
        try:
            return AppliedStore.for_config(self.config, state_dir(self.environ))
        except StateDBError:
            return None

    @cached_property
    def meta(self) -> AppliedMeta | None:
        """What is recorded (None: nothing)."""
        return None if self.store is None else self.store.meta()

    @cached_property
    def timetable(self) -> Timetable | None:
        """The timetable of what is applied, None when there is none for it."""
        return None if self.store is None else self.store.timetable(self.meta)

    @cached_property
    def on_disk(self) -> bytes | None:
        """The file's bytes now (None: it cannot be read)."""
        try:
            return read_config(self.config)
        except ConfigError:
            return None

    def file_is_applied(self) -> bool:
        """Whether the file on disk is the applied copy (and its timetable is at hand)."""
        data = self.on_disk
        return (
            data is not None
            and self.timetable is not None
            and self.meta is not None
            and sha256(data) == self.meta.sha256
        )

    def peek(self) -> ConfigPeek:
        """What a state command needs of the config: from the timetable when the file is the
        applied copy, else read from the file (`config.peek`, without validating)."""
        if self.timetable is not None and self.file_is_applied():
            return self.timetable.peek(self.config, self.environ)
        from sqlsentinel.config.peek import peek_file

        return peek_file(self.config, self.environ)

    def running(self, warn: Warn, loaded: LoadedConfig | None = None) -> Timetable:
        """What runs, and when: the applied timetable; without one, the config validated here
        (the applied copy, else the file: `loaded` when the caller already loaded it), saying
        so and naming each alert that cannot be loaded (raises ConfigError)."""
        if self.timetable is not None:
            return self.timetable
        return self._validated(warn, loaded)

    def _validated(self, warn: Warn, loaded: LoadedConfig | None) -> Timetable:
        from sqlsentinel.applied.accept import build_timetable
        from sqlsentinel.applied.host import default_system
        from sqlsentinel.applied.timetable import Launch
        from sqlsentinel.config.loader import load_text, with_schedules
        from sqlsentinel.config.read import decode_config

        meta, store = self.meta, self.store
        where: tuple[Path | None, str | None, datetime | None] = (None, None, None)
        if meta is None or meta.sha256 is None or store is None:
            warn(f"{self.config} is not applied yet: its alerts are checked as it loads here")
            data = read_config(self.config)
            fallbacks = self.fallbacks or Fallbacks.here(self.environ)
        else:
            warn(NO_TIMETABLE.format(config=self.config))
            data, fallbacks = store.read(self.config)
            where, loaded = (store.folder, meta.sha256, meta.applied_at), None
        text = decode_config(data, self.config)
        file = loaded or load_text(text, self.config, self.environ, fallbacks)
        for name, problems in file.broken.items():
            if name in file.broken_disabled:
                continue
            if name in file.unnotified:  # its schedule still counts (with_schedules)
                for problem in problems:
                    warn(f"alert {name}: its notifications cannot be checked here: {problem}")
            else:
                why = problems[0] if problems else "it does not load"
                warn(f"alert {name} is not checked for missed runs: {why}")
        file = with_schedules(file, text, self.environ, fallbacks)
        return build_timetable(file, Launch(default_system(), ()), *where)


def current(
    config: str, environ: Mapping[str, str] | None = None, fallbacks: Fallbacks | None = None
) -> Current:
    """The applied copy of `config` as `environ` (default: this process's) finds it: the
    state folder, and the variables a `state_db:` of the config reads; `fallbacks` (default:
    DATABASE_URL, this folder) for a config validated here."""
    return Current(config, os.environ if environ is None else environ, fallbacks)
