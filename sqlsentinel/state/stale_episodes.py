"""Stale episodes: an alert missed a scheduled run, until it runs again. All their SQL.

The daemon opens, notifies and ends an episode in an `EpisodeTransaction`, which holds
the alert's state row as a run does (`state.record.lock_state_row`) until its write
transaction commits: runs, daemons and a restarted daemon take turns on it, and each
reads the episode afresh under the lock, so an episode is opened, notified and ended
once. At most one episode per alert is open (a unique index). The notifications go to
the outbox like a run's (`insert_notifications`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta

from sqlsentinel.core.delivery import Claim
from sqlsentinel.state.db import StateDB, Tx
from sqlsentinel.state.outbox import claim_in
from sqlsentinel.state.record import OutboxEntry, insert_notifications, lock_state_row
from sqlsentinel.state.silences import silenced_now


@dataclass(frozen=True)
class Episode:
    """One stretch of time in which an alert missed its runs."""

    episode_id: str
    alert: str
    missed_tick: datetime  # the first scheduled run that did not happen
    last_run_at: datetime | None  # the last run before it (None: the alert never ran)
    detected_at: datetime
    notified_at: datetime | None = None  # when `stale` was queued (None: not yet, or silenced)
    recovered_at: datetime | None = None  # when a run was seen again (or the alert disabled)


_COLUMNS = tuple(f.name for f in fields(Episode))
_OPEN = f"SELECT {', '.join(_COLUMNS)} FROM stale_episodes WHERE recovered_at IS NULL"


class EpisodeTransaction:
    """An alert's state row, locked in the write transaction `tx`, with its open episode
    and how to change it."""

    def __init__(self, tx: Tx, alert: str, now: datetime) -> None:
        self._tx = tx
        self.alert = alert
        row = lock_state_row(tx, alert, now)
        self.state_row = row  # None: it never ran
        self.silenced = silenced_now(tx, alert, now) is not None
        found = tx.one(f"{_OPEN} AND alert = ?", (alert,))
        self.episode = Episode(**found) if found else None

    @property
    def last_run_at(self) -> datetime | None:
        """The alert's last recorded run, as it stands under the lock."""
        return self.state_row["last_run_at"] if self.state_row else None

    def start(self, episode: Episode) -> None:
        """Open `episode` (the alert has none open)."""
        values = asdict(episode)
        marks = ", ".join("?" for _ in _COLUMNS)
        self._tx.execute(
            f"INSERT INTO stale_episodes ({', '.join(_COLUMNS)}) VALUES ({marks})",
            [values[c] for c in _COLUMNS],
        )
        self.episode = episode

    def mark_notified(self, now: datetime) -> None:
        """Record that the open episode's `stale` notification is queued."""
        assert self.episode is not None
        self._tx.execute(
            "UPDATE stale_episodes SET notified_at = ? WHERE episode_id = ?",
            (now, self.episode.episode_id),
        )

    def end(self, now: datetime, retention: float | None) -> None:
        """Close the open episode; forget closed ones older than `retention` seconds."""
        assert self.episode is not None
        self._tx.execute(
            "UPDATE stale_episodes SET recovered_at = ? WHERE episode_id = ?",
            (now, self.episode.episode_id),
        )
        if retention:
            self._tx.execute(
                "DELETE FROM stale_episodes WHERE alert = ? AND recovered_at < ?",
                (self.alert, now - timedelta(seconds=retention)),
            )

    def queue(self, entries: Sequence[OutboxEntry], now: datetime) -> None:
        """Queue the open episode's notifications in the outbox."""
        assert self.episode is not None
        insert_notifications(self._tx, self.alert, self.episode.episode_id, entries, now)

    def claim_pending(self, now: datetime, lease: float) -> list[Claim]:
        """Claim the alert's undelivered notifications (as a run does) for `lease` seconds."""
        return claim_in(self._tx, self.alert, now, lease)


def open_episodes(db: StateDB) -> dict[str, Episode]:
    """Every alert's open episode, by alert."""
    with db.read() as tx:
        return {r["alert"]: Episode(**r) for r in tx.all(_OPEN)}
