"""The daemon's stale check against a real HTTP receiver, with an injected clock: one `stale`
and one `recovered` notification per episode, across checks, restarts and two daemons at
once, on SQLite and PostgreSQL; silences, retries and disabled alerts."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notify.servers import HookServer, Reply
from support import timetable_of

from sqlsentinel.applied.store import AppliedStore
from sqlsentinel.config.loader import LoadedConfig, load_file
from sqlsentinel.core.decide import Rule, decide
from sqlsentinel.core.run import RunRecord
from sqlsentinel.daemon.local import LocalBackend
from sqlsentinel.daemon.sd_notify import Notifier
from sqlsentinel.daemon.stale_watch import StaleWatch
from sqlsentinel.daemon.supervisor import DaemonSettings, Supervisor
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.record import open_run
from sqlsentinel.state.silences import add_silence

DAY = datetime(2026, 3, 2, tzinfo=UTC)
RAN = DAY.replace(hour=9, second=4)  # the 09:00 run
TICK = DAY.replace(hour=10)  # the run it then misses
GRACE = timedelta(seconds=90)  # timeout 30 s + 60 s


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


def load(tmp_path: Path, hook: HookServer, extra: str = "") -> LoadedConfig:
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nalerts:\n"
        "  - name: orders\n    query: SELECT 'OK' AS status\n    schedule: '0 * * * *'\n"
        f"    notify: [{{channel: webhook, url: '{hook.url()}', max_attempts: 1}}]\n{extra}"
    )
    return load_file(str(config))


def ran(url: str, at: datetime, alert: str = "orders") -> None:
    """Record a run of `alert` finished at `at`, as the engine does."""
    db = StateDB(url)
    db.ensure_schema()
    rec = RunRecord(uuid.uuid4().hex, alert, "CRON", None, None, at, at, "ok", "ok")
    with open_run(db, alert, at) as tx:
        tx.write(rec, decide(tx.previous, "ok", Rule(), tx.silenced, at), [], None)


def watcher(url: str, loaded: LoadedConfig) -> StaleWatch:
    watch = StaleWatch(url, lambda: DAY)
    watch.update(loaded, timetable_of(loaded, DAY - timedelta(days=1)))
    return watch


def episodes(url: str) -> list[dict[str, object]]:
    with StateDB(url).read() as tx:
        return tx.all("SELECT * FROM stale_episodes ORDER BY detected_at")


def reasons(hook: HookServer) -> list[str]:
    return [r.json()["reason"] for r in hook.requests]


def test_one_stale_and_one_recovered_notification_per_episode(
    url: str, hook: HookServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = load(tmp_path, hook)
    ran(url, RAN)
    watch = watcher(url, loaded)
    watch.check(TICK + GRACE - timedelta(seconds=1))
    assert hook.requests == []
    watch.check(TICK + GRACE)
    assert reasons(hook) == ["stale"]
    stale = hook.requests[0].json()
    assert (stale["alert"], stale["missed_tick"], stale["last_run_at"]) == (
        "orders",
        "2026-03-02T10:00:00Z",
        "2026-03-02T09:00:04Z",
    )
    assert stale["dedup_key"] == "orders:STALE:2026-03-02T10:00:00Z"
    assert "stale alert='orders' missed=2026-03-02T10:00:00+00:00" in caplog.text

    watch.check(TICK + timedelta(minutes=5))  # still stale: nothing new
    watcher(url, loaded).check(TICK + timedelta(minutes=6))  # a restarted daemon neither
    assert reasons(hook) == ["stale"]

    ran(url, TICK + timedelta(minutes=30))
    watch.check(TICK + timedelta(minutes=31))
    watch.check(TICK + timedelta(minutes=32))
    assert reasons(hook) == ["stale", "recovered"]
    recovered = hook.requests[1].json()
    assert recovered["dedup_key"] == stale["dedup_key"]
    assert recovered["last_run_at"] == "2026-03-02T10:30:00Z"
    assert recovered["event_id"] != stale["event_id"]
    [episode] = episodes(url)
    assert episode["recovered_at"] is not None and episode["notified_at"] is not None
    with StateDB(url).read() as tx:
        delivered = tx.all("SELECT outcome FROM deliveries WHERE alert = 'orders'")
        runs = tx.scalar("SELECT count(*) FROM history")
    assert [d["outcome"] for d in delivered] == ["delivered", "delivered"]
    assert runs == 2  # the daemon records no runs

    watch.check(DAY.replace(hour=11, minute=1, second=30))  # missed 11:00: a new episode
    assert reasons(hook) == ["stale", "recovered", "stale"]
    assert hook.requests[2].json()["missed_tick"] == "2026-03-02T11:00:00Z"


def _check_in_a_process(url: str, loaded: LoadedConfig, start: Any) -> None:
    """A daemon of its own: its own process (spawned: SQLite must not cross a fork), state
    database session and outbox claims."""
    watch = watcher(url, loaded)
    start.wait(120)  # all four at once, however slowly a loaded machine starts them
    watch.check(TICK + GRACE)


def test_two_daemons_checking_at_once_notify_once(
    url: str, hook: HookServer, tmp_path: Path
) -> None:
    loaded = load(tmp_path, hook)
    ran(url, RAN)
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(4)
    daemons = [
        spawn.Process(target=_check_in_a_process, args=(url, loaded, start)) for _ in range(4)
    ]
    for d in daemons:
        d.start()
    for d in daemons:
        d.join(180)
    assert [d.exitcode for d in daemons] == [0, 0, 0, 0]
    assert reasons(hook) == ["stale"]
    assert len(episodes(url)) == 1


def race(watches: list[StaleWatch], now: datetime) -> None:
    """Every watcher checks at `now`, all at once, each in its own thread."""
    start = threading.Barrier(len(watches))

    def check(w: StaleWatch) -> None:
        start.wait(10)
        w.check(now)

    threads = [threading.Thread(target=check, args=(w,)) for w in watches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def test_postgresql_sessions_racing_for_each_episode_notify_once(
    pg_url: str, hook: HookServer, tmp_path: Path
) -> None:
    """Each watcher its own session: a claim is released only once its outcome is committed,
    and a claimant checks the row is still pending once it holds it."""
    loaded = load(tmp_path, hook)
    watches = [watcher(pg_url, loaded) for _ in range(4)]
    for hour in (10, 12, 14):
        tick = DAY.replace(hour=hour)
        ran(pg_url, tick - timedelta(minutes=59, seconds=56))
        race(watches, tick + GRACE)
        ran(pg_url, tick + timedelta(minutes=30))
        race(watches, tick + timedelta(minutes=31))
    assert reasons(hook) == ["stale", "recovered"] * 3


def test_a_silenced_episode_notifies_when_the_silence_ends(
    url: str, hook: HookServer, tmp_path: Path
) -> None:
    loaded = load(tmp_path, hook)
    ran(url, RAN)
    db = StateDB(url)
    add_silence(db, "orders", RAN, TICK + timedelta(minutes=10), "maintenance", "me")
    watch = watcher(url, loaded)
    watch.check(TICK + GRACE)
    assert hook.requests == []
    [episode] = episodes(url)
    assert episode["notified_at"] is None
    watch.check(TICK + timedelta(minutes=11))
    assert reasons(hook) == ["stale"]
    watch.check(TICK + timedelta(minutes=12))
    assert reasons(hook) == ["stale"]


def test_an_undelivered_notice_is_retried_at_the_next_check(
    url: str, hook: HookServer, tmp_path: Path
) -> None:
    loaded = load(tmp_path, hook)
    ran(url, RAN)
    hook.replies = [Reply(status=503)]
    watch = watcher(url, loaded)
    watch.check(TICK + GRACE)
    watch.check(TICK + GRACE + timedelta(seconds=30))
    assert [r.json()["reason"] for r in hook.requests] == ["stale", "stale"]
    assert hook.requests[0].json()["event_id"] == hook.requests[1].json()["event_id"]
    with StateDB(url).read() as tx:
        status = tx.scalar("SELECT status FROM notifications WHERE reason = 'stale'")
        attempts = tx.all("SELECT attempt, outcome FROM deliveries ORDER BY id")
    assert status == "delivered"
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "retryable"), (2, "delivered")]


def test_disabling_a_stale_alert_ends_its_episode_quietly(
    url: str, hook: HookServer, tmp_path: Path
) -> None:
    ran(url, RAN)
    watch = watcher(url, load(tmp_path, hook))
    watch.check(TICK + GRACE)
    off = load(tmp_path, hook, "    enabled: false\n")
    watch.update(off, timetable_of(off, DAY))
    watch.check(TICK + timedelta(minutes=5))
    assert reasons(hook) == ["stale"]
    [episode] = episodes(url)
    assert episode["recovered_at"] is not None


def test_an_alert_that_never_ran_is_stale_a_tick_after_the_apply(
    url: str, hook: HookServer, tmp_path: Path
) -> None:
    StateDB(url).ensure_schema()
    watch = StaleWatch(url, lambda: DAY)
    loaded = load(tmp_path, hook)
    watch.update(loaded, timetable_of(loaded, TICK - timedelta(minutes=30)))
    watch.check(TICK + GRACE - timedelta(seconds=1))
    assert hook.requests == []
    watch.check(TICK + GRACE)
    [request] = hook.requests
    body = request.json()
    assert (body["reason"], body["state"], body["last_run_at"]) == ("stale", "NEVER_RUN", None)
    assert [r.alert for r in watch.report(TICK + GRACE) if r.stale] == ["orders"]


def test_the_thread_checks_by_itself_and_stops(url: str, hook: HookServer, tmp_path: Path) -> None:
    ran(url, RAN)
    watch = StaleWatch(url, lambda: TICK + GRACE, interval=0.05, first=0.05)
    loaded = load(tmp_path, hook)
    watch.update(loaded, timetable_of(loaded, DAY))
    watch.start()
    deadline = time.monotonic() + 10
    while not hook.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    watch.close(timeout=5)
    assert not watch._thread.is_alive()
    assert reasons(hook) == ["stale"]


def test_the_supervisor_watches_what_it_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nalerts:\n"
        "  - name: a\n    query: SELECT 'OK' AS status\n    schedule: '0 0 1 1 *'\n"
    )
    store = AppliedStore.for_config(str(config), tmp_path / "state")
    settings = DaemonSettings(
        str(config), f"sqlite:///{tmp_path / 's.db'}", watch=False, environ={}
    )
    backend = LocalBackend(1, {}, False)
    sup = Supervisor(settings, store, backend, Notifier())
    sup.start()
    try:
        assert sup.stale_watch is not None and sup.stale_watch.watched is not None
        applied_at = sup.stale_watch.watched.timetable.applied_at
        assert applied_at == sup.store.meta().applied_at  # type: ignore[union-attr]
        assert 'sqlsentinel_alert_stale{alert="a"} 0' in sup.metrics()
    finally:
        sup.stop()
        sup.run()
    assert not sup.stale_watch._thread.is_alive()
