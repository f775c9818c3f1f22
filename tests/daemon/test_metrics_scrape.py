"""GET /metrics of a started supervisor, as a scraper reads it: `promtool check metrics`
(Debian's prometheus) clean, counters typed as counters, every key's bytes kept (17.14)."""

from __future__ import annotations

import sqlite3
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import check_exposition, free_port

from sqlsentinel.applied.store import AppliedStore
from sqlsentinel.core.decide import Rule
from sqlsentinel.core.instances import Instance, decide_instances, instance_key
from sqlsentinel.daemon.http import METRICS_TYPE, Probes, ProbeServer
from sqlsentinel.daemon.local import LocalBackend
from sqlsentinel.daemon.reload_ack import ReloadAck
from sqlsentinel.daemon.sd_notify import Notifier
from sqlsentinel.daemon.supervisor import DaemonSettings, Supervisor
from sqlsentinel.state.instances import save_instances

CONFIG = """\
database:
  url: sqlite:///t.db
alerts:
  - name: late
    key: [id]
    query: SELECT 'OK' AS status, 1 AS id
    schedule: "0 0 1 1 *"
"""
KEYS = ["a", "a\x1b[31m", 'q"\\']


@pytest.fixture
def sup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Supervisor]:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    config.write_text(CONFIG)
    store = AppliedStore.for_config(str(config), tmp_path / "state")
    settings = DaemonSettings(
        str(config), f"sqlite:///{tmp_path / 's.db'}", watch=False, environ={}
    )
    supervisor = Supervisor(
        settings, store, LocalBackend(2, {}, False), Notifier(), ReloadAck(tmp_path / "run" / "r")
    )
    supervisor.start()
    yield supervisor
    supervisor.stop()
    supervisor.run()


def test_metrics_over_http_pass_promtool(sup: Supervisor) -> None:
    assert sup.db is not None
    sup.db.ensure_schema()
    now = sup.clock()
    rows = [Instance(instance_key([k]), {"id": k}, "alert", 1) for k in KEYS]
    with sup.db.write() as tx:
        save_instances(
            tx, "late", decide_instances({}, rows, Rule(), lambda k: False, "resolve", now), now
        )
    port = free_port()
    server = ProbeServer("127.0.0.1", port, Probes(sup.health, sup.ready, sup.metrics))
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert r.headers["Content-Type"] == METRICS_TYPE
            body = r.read()
    finally:
        server.stop()
    samples = check_exposition(body)
    assert b"# TYPE sqlsentinel_runs_total counter\n" in body
    assert b"# TYPE sqlsentinel_notification_attempts_total counter\n" in body
    assert any(s.startswith("sqlsentinel_build_info{version=") for s in samples)
    firing = [s for s in samples if s.startswith("sqlsentinel_alert_instance_firing{")]
    assert len(firing) == len(KEYS)
    assert 'id="a\x1b[31m"' in body.decode()
