"""What the supervisor asks of a backend, and the applied config it hands over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlsentinel.config.applied import AppliedMeta, AppliedStore
from sqlsentinel.config.loader import LoadedConfig
from sqlsentinel.daemon.jobs import Job


@dataclass(frozen=True)
class Applied:
    """A validated config, its applied copy and its enabled alerts' jobs."""

    loaded: LoadedConfig
    store: AppliedStore
    meta: AppliedMeta
    jobs: tuple[Job, ...]


class Backend(Protocol):
    """systemd (timers fire the checks) or local (the daemon fires them)."""

    name: str

    def install(self, applied: Applied, now: datetime, missed: Mapping[str, datetime]) -> str:
        """Make `applied` what runs; a short summary for the log. `missed`: recorded next
        runs of a previous daemon (the local backend catches up on them)."""

    def step(self, now: datetime) -> tuple[datetime | None, int]:
        """Do what is due at `now`: when something is next due (None: nothing) and how
        many checks started or finished (the next runs and the status line moved)."""

    def next_runs(self, now: datetime) -> dict[str, datetime | None]:
        """Each alert's next planned run."""

    def cannot_record(self) -> str | None:
        """Why the checks cannot record their results, as far as the backend sees
        (None: no sign of it)."""

    def running(self) -> list[str]:
        """Alerts whose check the daemon is running now."""

    def stop(self) -> None:
        """Shut down (the local backend waits for its checks, within a bound)."""
