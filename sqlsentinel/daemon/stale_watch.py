"""The daemon's stale check: notify once when an alert misses a scheduled run, once when it
runs again.

A thread looks every CHECK_S (the first time FIRST_CHECK_S after the start, so the runs a
restart catches up come first) at each alert of the applied timetable: its timer against
its last recorded run (`applied.staleness`). A stale alert without an open episode
gets one, and its `stale` notification; an open episode ends when the alert has run since
its missed tick, with a `recovered` notification (when `stale` went out and
`notify_on_resolve`). Each decision is made under the alert's state row lock, from what the
row says then (`state.stale_episodes`), so a run finishing meanwhile, a second daemon or a
restart never repeats one. The notifications go through the outbox and `notify.dispatch`
like a run's (retries, superseding, the delivery log); an open episode's undelivered ones
are retried at every check, since a stale alert has no run to retry them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlsentinel.applied.staleness import Staleness, staleness, timetable_staleness
from sqlsentinel.applied.timetable import Timetable
from sqlsentinel.config.loader import LoadedConfig
from sqlsentinel.core.budget import DELIVERY_BUDGET_S, lease_seconds
from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.core.stale_event import stale_event
from sqlsentinel.errors import SentinelError
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.listings import last_runs
from sqlsentinel.state.record import OutboxEntry
from sqlsentinel.state.stale_episodes import Episode, EpisodeTransaction, open_episodes

log = logging.getLogger("sqlsentinel.daemon")
CHECK_S = 30.0  # how often the daemon looks for stale alerts
FIRST_CHECK_S = 120.0  # the first look after the start (catch-up runs at boot finish first)


@dataclass(frozen=True)
class Watched:
    """The applied config the check follows: its alerts (what to send) and its timetable
    (when they run; an alert that never ran counts from when it was applied)."""

    loaded: LoadedConfig
    timetable: Timetable


class StaleWatch:
    """A thread that finds stale alerts and notifies, on its own state database connection."""

    def __init__(
        self,
        url: str,
        clock: Callable[[], datetime],
        *,
        interval: float = CHECK_S,
        first: float = FIRST_CHECK_S,
    ) -> None:
        self.db = StateDB(url)
        self.clock, self.interval, self.first = clock, interval, first
        self.watched: Watched | None = None
        self._stop = threading.Event()
        self._last_error = ""
        self._thread = threading.Thread(target=self._loop, name="stale-watch", daemon=True)

    def update(self, loaded: LoadedConfig, timetable: Timetable) -> None:
        """Follow a newly applied config."""
        self.watched = Watched(loaded, timetable)

    def start(self) -> None:
        """Start checking."""
        self._thread.start()

    def close(self, timeout: float) -> None:
        """Stop checking (a delivery under way is abandoned with the process)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def report(self, now: datetime) -> list[Staleness]:
        """How each alert that runs stands (for /metrics)."""
        w = self.watched
        if w is None:
            return []
        return timetable_staleness(w.timetable, last_runs(self.db), now)

    def _loop(self) -> None:
        wait = self.first
        while not self._stop.wait(wait):
            wait = self.interval
            try:
                self.check(self.clock())
            except SentinelError as exc:
                if str(exc) != self._last_error:
                    log.error("stale check: %s", exc)
                self._last_error = str(exc)
            else:
                self._last_error = ""

    def check(self, now: datetime) -> None:
        """One look at every alert: open, notify, retry and end episodes as they stand."""
        w = self.watched
        if w is None:
            return
        self.db.ensure_schema()
        episodes = open_episodes(self.db)
        for s in self.report(now):
            alert = w.loaded.alert(s.alert)
            if alert is not None and (s.stale or s.alert in episodes):
                self._settle(alert, w, now)
        for alert in w.loaded.alerts:
            if not alert.enabled and alert.name in episodes:
                self._settle(alert, w, now)  # disabled: the episode ends, nothing is sent

    def _settle(self, alert: AlertSpec, w: Watched, now: datetime) -> None:
        """Decide one alert's episode under its state row lock; deliver what that queued."""
        deadline = time.monotonic() + DELIVERY_BUDGET_S
        with self.db.write(deadline) as locked:
            tx = EpisodeTransaction(locked, alert.name, now)
            entry = w.timetable.entry(alert.name)  # None: disabled, never due
            applied_at = w.timetable.applied_at
            current = None if entry is None else staleness(entry, tx.last_run_at, applied_at, now)
            missed = None if current is None else current.missed_tick
            reason = _decide(tx, alert, missed, w.loaded.settings.history_retention, now)
            if reason is NotifyReason.STALE:
                tx.mark_notified(now)
            if reason is not None and alert.notify:
                assert tx.episode is not None
                tx.queue(_entries(alert, reason, tx.episode, tx.state_row, now), now)
            lease = lease_seconds(DELIVERY_BUDGET_S)
            claimed = tx.claim_pending(now, lease) if alert.notify else []
        if claimed:
            from sqlsentinel.notify.dispatch import deliver_claimed

            deliver_claimed(alert, w.loaded.settings, self.db, claimed, deadline, self.clock)


def _decide(
    tx: EpisodeTransaction,
    alert: AlertSpec,
    missed_tick: datetime | None,
    retention: float | None,
    now: datetime,
) -> NotifyReason | None:
    """Open or end the alert's episode as the locked row says; what to notify, if anything."""
    episode = tx.episode
    if episode is None:
        if missed_tick is None:
            return None  # it ran meanwhile
        episode = Episode(os.urandom(16).hex(), alert.name, missed_tick,
                          tx.last_run_at, now)  # fmt: skip
        tx.start(episode)
        _log(logging.WARNING, "alert stale", episode, tx.last_run_at)
        return None if tx.silenced else NotifyReason.STALE
    ran = tx.last_run_at is not None and tx.last_run_at > episode.missed_tick
    if ran or not alert.enabled:
        tx.end(now, retention)
        what = "alert recovered" if ran else "stale alert disabled"
        _log(logging.INFO, what, episode, tx.last_run_at)
        told = episode.notified_at is not None and alert.notify_on_resolve
        return NotifyReason.RECOVERED if ran and told and not tx.silenced else None
    if episode.notified_at is None and not tx.silenced:
        return NotifyReason.STALE  # a silence ended while it is still stale
    return None


def _entries(
    alert: AlertSpec, reason: NotifyReason, episode: Episode, row: dict[str, object] | None,
    now: datetime,
) -> list[OutboxEntry]:  # fmt: skip
    """One outbox row per target the policy routes it to, each with its own event id."""
    from sqlsentinel.engine.routing import alert_targets
    from sqlsentinel.notify.deliver import describe_target

    entries = []
    for index in alert_targets(alert, reason, now):
        target = alert.notify[index]
        event = stale_event(alert, reason, episode.episode_id, episode.missed_tick, row, now)
        where = describe_target(target)
        payload = event.to_payload()
        entries.append(
            OutboxEntry(event.event_id, target.channel, where, index, reason.value, payload)
        )
    return entries


def _log(level: int, what: str, episode: Episode, last_run: datetime | None) -> None:
    log.log(
        level,
        "%s alert=%r missed=%s last_run=%s episode=%s",
        what,
        episode.alert,
        episode.missed_tick.isoformat(),
        last_run.isoformat() if last_run else None,
        episode.episode_id,
    )
