"""What the supervisor asks of a backend, and the applied config it hands over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlsentinel.applied.accept import Accepted
from sqlsentinel.applied.store import AppliedMeta, AppliedStore
from sqlsentinel.applied.timetable import Launch, Timetable
from sqlsentinel.config.loader import LoadedConfig
from sqlsentinel.daemon.jobs import Job, jobs_of


@dataclass(frozen=True)
class Applied:
    """A validated config, its applied copy, its timetable and the jobs of what runs."""

    loaded: LoadedConfig
    store: AppliedStore
    meta: AppliedMeta
    timetable: Timetable
    jobs: tuple[Job, ...]

    @classmethod
    def of(cls, accepted: Accepted, store: AppliedStore) -> Applied:
        """What the accept step applied (its metadata recorded)."""
        assert accepted.meta is not None
        timetable = accepted.timetable
        return cls(accepted.loaded, store, accepted.meta, timetable, jobs_of(timetable))


class Backend(Protocol):
    """systemd (timers fire the checks) or local (the daemon fires them)."""

    name: str
    launch: Launch  # how its ticks start (the timetable's command lines)

    def install(self, applied: Applied, now: datetime, recorded: Mapping[str, datetime]) -> str:
        """Make `applied` what runs; a short summary for the log. `recorded`: the next
        runs of a previous daemon (the local backend catches up on them)."""

    def step(self, now: datetime) -> tuple[datetime | None, int]:
        """Do what is due at `now`: when something is next due (None: nothing) and how
        many checks started or finished (the next runs and the status line moved)."""

    def next_runs(self, now: datetime) -> dict[str, datetime | None]:
        """Each alert's next planned run."""

    def stopped(self) -> dict[str, str]:
        """Alerts whose timer is not running, with its state (systemd: as the latest
        `next_runs` found; local: none)."""

    def cannot_record(self) -> str | None:
        """Why the checks cannot record their results, as far as the backend sees
        (None: no sign of it)."""

    def running(self) -> list[str]:
        """Alerts whose check the daemon is running now."""

    def stop(self) -> None:
        """Shut down (the local backend waits for its checks, within a bound)."""
