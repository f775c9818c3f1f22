"""`heartbeat_url`: a real HTTP server as the dead-man's switch, through `sqlsentinel run`."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from notify.servers import HookServer, Reply
from support import Cli, free_port

from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.engine.heartbeat import HEARTBEAT_TIMEOUT_S, ping, signal_url

CHECK = "0b3c6e3c-1a2b-4c5d-8e9f-abcdef123456"  # a Healthchecks check UUID: its secret


def write(tmp_path: Path, url: str, query: str = "SELECT 'OK' AS status", extra: str = "") -> Path:
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "database:\n  url: sqlite:///t.db\nstate_db: s.db\n"
        f"defaults:\n  heartbeat_url: {url}\n{extra}"
        f'alerts:\n  - name: hb\n    query: "{query}"\n    schedule: "* * * * *"\n'
        "  - name: quiet\n    query: SELECT 'OK' AS status\n    schedule: '* * * * *'\n"
        "    heartbeat_url: null\n"
    )
    return config


def test_success_fail_and_start(cli: Cli, tmp_path: Path, hook: HookServer) -> None:
    url = hook.url(f"/ping/{CHECK}")
    done = cli("run", write(tmp_path, url), "--alert", "hb")
    assert done.rc == 0, done.stderr
    assert [(r.method, r.path) for r in hook.requests] == [("GET", f"/ping/{CHECK}")]

    broken = write(tmp_path, url, "SELECT nope FROM missing")
    assert cli("run", broken, "--alert", "hb").rc == 1  # the check failed
    assert hook.requests[-1].path == f"/ping/{CHECK}/fail"

    started = write(tmp_path, url, extra="  heartbeat_start: true\n")
    hook.requests.clear()
    assert cli("run", started, "--alert", "hb").rc == 0
    assert [r.path for r in hook.requests] == [f"/ping/{CHECK}/start", f"/ping/{CHECK}"]
    assert hook.requests[0].headers["User-Agent"].startswith("sqlsentinel/")

    hook.requests.clear()
    assert cli("run", started, "--alert", "quiet").rc == 0  # `heartbeat_url: null`: none
    assert hook.requests == []


def test_a_dead_or_refusing_service_never_fails_the_run(
    cli: Cli, tmp_path: Path, hook: HookServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/ping/{CHECK}"
    done = cli("run", write(tmp_path, dead), "--alert", "hb", "--json")
    assert done.rc == 0, done.stderr
    assert '"state": "OK"' in done.stdout
    assert "heartbeat failed alert='hb' signal=success url=http://127.0.0.1:" in done.stderr
    assert "connection refused" in done.stderr
    assert CHECK not in done.stderr  # the check's UUID is its secret

    hook.default = Reply(status=404, body=f"no check {CHECK}".encode())
    done = cli("run", write(tmp_path, hook.url(f"/ping/{CHECK}")), "--alert", "hb")
    assert done.rc == 0
    assert "heartbeat failed" in done.stderr and "HTTP 404" in done.stderr
    assert CHECK not in done.stderr


@pytest.mark.parametrize(
    ("path", "secrets"),
    [
        ("/c0ffee1234", ["c0ffee1234"]),  # short: no token by its shape
        ("/p/cr0nK3y9x7/nightly", ["cr0nK3y9x7", "nightly"]),  # a ping key and a slug
        ("/abcdefghijklmnopqrst", ["abcdefghijklmnopqrst"]),  # letters only
        ("/ping?check=lettersonly&n=7", ["lettersonly", "ping"]),
    ],
)
def test_every_path_segment_and_the_query_are_hidden_in_the_log(
    cli: Cli, tmp_path: Path, path: str, secrets: list[str]
) -> None:
    port = free_port()  # nothing listens: the failure is logged
    done = cli("run", write(tmp_path, f"http://u:pw@127.0.0.1:{port}{path}"), "--alert", "hb")
    assert done.rc == 0, done.stderr
    assert f"url=http://127.0.0.1:{port}/…redacted error=" in done.stderr
    for secret in [*secrets, "pw"]:
        assert secret not in done.stderr.replace("sqlsentinel", ""), secret


def test_a_slow_service_is_cut_off(cli: Cli, tmp_path: Path, hook: HookServer) -> None:
    hook.default = Reply(delay=30)
    began = time.monotonic()
    done = cli("run", write(tmp_path, hook.url(f"/ping/{CHECK}")), "--alert", "hb")
    took = time.monotonic() - began
    assert done.rc == 0, done.stderr
    assert "heartbeat failed alert='hb' signal=success" in done.stderr
    assert f"error=no complete answer within {HEARTBEAT_TIMEOUT_S:g} s" in done.stderr
    assert HEARTBEAT_TIMEOUT_S <= took < HEARTBEAT_TIMEOUT_S + 10


def test_the_run_s_end_bounds_the_request(hook: HookServer) -> None:
    hook.default = Reply(delay=30)
    alert = AlertSpec("hb", "SELECT 1", "* * * * *", DatabaseSpec("sqlite://"),
                      heartbeat_url=hook.url("/ping/x"))  # fmt: skip
    began = time.monotonic()
    assert ping(alert, "success", began + 1.0) is False
    assert time.monotonic() - began < 10  # the run's end, not the receiver's 30 s
    assert ping(alert, "success", time.monotonic() + 0.1) is False  # too little time: none sent
    assert len(hook.requests) == 1


@pytest.mark.parametrize(
    ("url", "signal", "expected"),
    [
        ("https://hc-ping.com/u", "success", "https://hc-ping.com/u"),
        ("https://hc-ping.com/u/", "fail", "https://hc-ping.com/u/fail"),
        (
            "https://hc-ping.com/key/slug?create=1",
            "start",
            "https://hc-ping.com/key/slug/start?create=1",
        ),
    ],
)
def test_signal_urls(url: str, signal: str, expected: str) -> None:
    assert signal_url(url, signal) == expected  # type: ignore[arg-type]
