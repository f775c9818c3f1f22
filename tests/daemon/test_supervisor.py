"""The supervisor driven in-process: apply, reject, reload, the acknowledgement, the probes."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_http import get
from support import free_port

from sqlsentinel.applied.store import AppliedStore
from sqlsentinel.core.decide import Rule
from sqlsentinel.core.instances import Instance, decide_instances, instance_key
from sqlsentinel.daemon.http import Probes, ProbeServer
from sqlsentinel.daemon.local import LocalBackend
from sqlsentinel.daemon.reload_ack import ReloadAck, read_ack
from sqlsentinel.daemon.sd_notify import Notifier
from sqlsentinel.daemon.supervisor import STALL_S, DaemonSettings, Supervisor
from sqlsentinel.errors import ConfigError
from sqlsentinel.state.daemon_state import read_daemon_status
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.instances import save_instances

ALERT = """\
  - name: {name}
    query: SELECT 'OK' AS status
    schedule: "0 0 1 1 *"
"""


def write(config: Path, *names: str, broken: bool = False) -> None:
    text = "database:\n  url: sqlite:///t.db\nalerts:\n" + "".join(
        ALERT.format(name=n) for n in names
    )
    config.write_text(text.replace('"0 0 1 1 *"', '"0 0 1 1"') if broken else text)


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Supervisor, Path]]:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    store = AppliedStore.for_config(str(config), tmp_path / "state")
    settings = DaemonSettings(
        str(config), f"sqlite:///{tmp_path / 's.db'}", watch=False, environ={}
    )
    backend = LocalBackend(2, {}, False)
    sup = Supervisor(settings, store, backend, Notifier(), ReloadAck(tmp_path / "run" / "reload-1"))
    yield sup, config
    if sup.recorder is not None:
        sup.stop()
        sup.run()


def test_invalid_with_nothing_applied_fails_to_start_and_is_never_ready(
    parts: tuple[Supervisor, Path],
) -> None:
    sup, config = parts
    write(config, "a", broken=True)
    port = free_port()
    server = ProbeServer("127.0.0.1", port, Probes(sup.health, sup.ready, sup.metrics))
    server.start()
    try:
        assert get(port, "/ready") == (503, "no config applied\n")
        with pytest.raises(ConfigError) as exc:
            sup.start()
        assert "alerts.yaml:6: alerts[0].schedule" in str(exc.value)
        assert get(port, "/ready") == (503, "no config applied\n")
        assert get(port, "/metrics")[0] == 503
        assert get(port, "/health")[0] == 200  # the loop is not stuck, it never started
        assert get(port, "/nope")[0] == 404
    finally:
        server.stop()
    meta = sup.store.meta()
    assert meta is not None and meta.sha256 is None and meta.rejected is not None


def test_a_broken_edit_changes_nothing_and_a_fix_applies(parts: tuple[Supervisor, Path]) -> None:
    sup, config = parts
    write(config, "a")
    sup.start()
    copy = (sup.store.folder / "config.yaml").read_bytes()
    assert sup.backend.next_runs(sup.clock()).keys() == {"a"}
    assert sup.reload(forced=False) == "unchanged"

    write(config, "a", "b", broken=True)
    assert sup.reload(forced=False) == "rejected"
    assert (sup.store.folder / "config.yaml").read_bytes() == copy
    assert sup.backend.next_runs(sup.clock()).keys() == {"a"}
    assert sup.line.startswith("config invalid since ")
    assert "alerts.yaml:6: alerts[0].schedule (alert 'a'): only 4 fields given" in sup.line
    assert sup.applied is not None and sup.applied.meta.applied_at is not None
    applied_at = sup.applied.meta.applied_at.strftime("%H:%M UTC")
    assert sup.line.endswith(f"(+1 more); running the config applied at {applied_at}")
    assert sup.reload(forced=False) == "unchanged"  # the same bad bytes are not re-validated

    write(config, "a", "b")
    assert sup.reload(forced=False) == "applied"
    assert sup.backend.next_runs(sup.clock()).keys() == {"a", "b"}
    assert sup.line.startswith("2 alerts scheduled; next: a at 2027-01-01 00:00 UTC")
    ack = read_ack(sup.ack.path)  # type: ignore[union-attr]
    assert ack is not None and (ack.started, ack.finished) == (4, 4)
    assert ack.result.startswith("applied 2 alerts scheduled")


def test_a_restart_with_an_invalid_file_runs_the_copy_applied_before(
    parts: tuple[Supervisor, Path], tmp_path: Path
) -> None:
    sup, config = parts
    write(config, "a")
    sup.start()
    write(config, "a", "b", broken=True)
    again = Supervisor(sup.settings, sup.store, LocalBackend(1, {}, False), Notifier())
    again.start()
    assert again.backend.next_runs(again.clock()).keys() == {"a"}
    assert again.line.startswith("config invalid since")
    assert again.ready() == (True, again.line)
    again.stop()
    again.run()


def test_heartbeat_next_runs_and_a_stalled_loop(parts: tuple[Supervisor, Path]) -> None:
    sup, config = parts
    write(config, "a")
    sup.start()
    sup.step()
    assert sup.db is not None
    deadline = time.monotonic() + 10
    while not read_daemon_status(sup.db) and time.monotonic() < deadline:
        time.sleep(0.05)
    (status,) = read_daemon_status(StateDB(sup.db.url))
    assert status.beat.backend == "local" and status.beat.stopped_at is None
    assert status.next_runs == sup.backend.next_runs(sup.clock())
    assert sup.health() == (True, sup.line)
    sup.loop_at -= STALL_S + 1  # as if the loop hung
    ok, why = sup.health()
    assert not ok and why.startswith("the loop has not run for 1")
    sup.stop()
    assert sup.run() == 0
    (stopped,) = read_daemon_status(sup.db)
    assert stopped.beat.stopped_at is not None and stopped.beat.status == "stopped"
    assert read_ack(sup.ack.path) is None  # type: ignore[union-attr]
    sup.recorder = None  # stopped already


def test_a_broken_alert_keeps_its_times_and_a_new_broken_one_gets_none(
    parts: tuple[Supervisor, Path],
) -> None:
    sup, config = parts
    write(config, "a", "b")
    sup.start()
    unset = "    description: ${SQLSENTINEL_TEST_UNSET}\n"
    broken = (ALERT.format(name=n) + unset for n in ("b", "c"))
    config.write_text(config.read_text().split("  - name: b")[0] + "".join(broken))
    assert sup.reload(forced=False) == "applied"
    assert sup.backend.next_runs(sup.clock()).keys() == {"a", "b"}
    assert sup.line.startswith("2 alerts scheduled") and "; 2 broken: b: " in sup.line


def test_metrics_bound_each_keyed_alert_by_its_max_instances(
    parts: tuple[Supervisor, Path],
) -> None:
    """/metrics caps an alert's instance series at the applied config's max_instances."""
    sup, config = parts
    write(config, "late")
    keyed = "    key: [id]\n    max_instances: 2\n    query:"
    config.write_text(config.read_text().replace("    query:", keyed))
    sup.start()
    assert sup.db is not None
    sup.db.ensure_schema()
    now = sup.clock()
    rows = [Instance(instance_key([i]), {"id": i}, "alert", i) for i in range(5)]
    with sup.db.write() as tx:
        decisions = decide_instances({}, rows, Rule(), lambda k: False, "resolve", now)
        save_instances(tx, "late", decisions, now)
    firing = [
        line
        for line in sup.metrics().splitlines()
        if line.startswith("sqlsentinel_alert_instance_firing{")
    ]
    assert len(firing) == 2
