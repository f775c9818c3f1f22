"""`sqlsentinel run` end to end, in real subprocesses, on SQLite and PostgreSQL state databases."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sqlsentinel.state import listings
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.schema import SCHEMA_VERSION

ALERT_SQL = "SELECT 'ALERT' AS status, 12 AS actual_value, 10 AS threshold"
OK_SQL = "SELECT 'OK' AS status"


def config(alerts: dict[str, str], extra: str = "", notify: str = "") -> str:
    """A config on an in-memory SQLite database; `alerts` maps name -> SQL."""
    lines = ["database:", "  url: 'sqlite://'", extra, "alerts:"]
    for name, sql in alerts.items():
        lines += [
            f"  - name: {name}",
            f"    query: {json.dumps(sql)}",
            "    schedule: '*/5 * * * *'",
        ]
        if notify:
            lines.append(notify.replace("{name}", name))
    return "\n".join(lines) + "\n"


def rows(url: str, alert: str | None = None) -> list[dict[str, Any]]:
    return listings.history_rows(StateDB(url), [alert] if alert else [], limit=1000)


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'lib' / 'state.db'}"  # the folder does not exist yet


def test_ok_and_alert_exit_0_and_are_recorded(cli, write_config, state_url: str) -> None:
    path = write_config(config({"fine": OK_SQL, "bad": ALERT_SQL}))
    assert not Path(state_url.removeprefix("sqlite:///")).exists()
    done = cli("run", path, "--state-db", state_url, "--json")
    assert done.rc == 0, done
    out = {r["alert"]: r for r in json.loads(done.stdout)}
    assert (out["fine"]["state"], out["bad"]["state"]) == ("OK", "ALERT")
    assert out["bad"]["actual_value"] == 12
    assert StateDB(state_url).schema_version() == SCHEMA_VERSION  # created automatically
    [fine] = rows(state_url, "fine")
    [bad] = rows(state_url, "bad")
    assert (fine["outcome"], fine["state"], fine["triggered_by"]) == ("ok", "OK", "MANUAL")
    assert (bad["outcome"], bad["transition"], bad["actual_value"]) == ("alert", "firing", 12)

    again = cli("run", path, "--alert", "bad", "--state-db", state_url, "--triggered-by", "cron")
    assert again.rc == 0, again
    assert [r["transition"] for r in rows(state_url, "bad")] == ["still_firing", "firing"]
    assert rows(state_url, "bad")[0]["triggered_by"] == "CRON"


@pytest.mark.parametrize(
    ("sql", "outcome", "error"),
    [
        ("SELECT * FROM missing_table", "query_error", "missing_table"),
        ("SELECT 'MAYBE' AS status", "invalid_status", "got 'MAYBE'"),
    ],
)
def test_failing_check_exits_1_and_records_the_error(
    cli, write_config, state_url: str, sql: str, outcome: str, error: str
) -> None:
    path = write_config(config({"broken": sql}))
    done = cli("run", path, "--alert", "broken", "--state-db", state_url)
    assert done.rc == 1, done
    [row] = rows(state_url, "broken")
    assert (row["outcome"], row["state"], row["transition"]) == (outcome, "ERROR", "error")
    assert error in row["error"]


def test_log_line_on_stderr(cli, write_config, state_url: str) -> None:
    path = write_config(config({"orders_late": ALERT_SQL}))
    done = cli("run", path, "--alert", "orders_late", "--triggered-by", "CRON", "--state-db",
               state_url)  # fmt: skip
    assert done.rc == 0, done
    match = re.search(
        r"run finished alert='orders_late' run_id=([0-9a-f]{32}) triggered_by=CRON "
        r"outcome=alert state=ALERT transition=firing previous_state=None notifications=0",
        done.stderr,
    )
    assert match, done.stderr
    assert rows(state_url, "orders_late")[0]["run_id"] == match.group(1)
    assert "run finished" not in done.stdout


def test_dry_run_writes_nothing(cli, write_config, tmp_path: Path, state_url: str) -> None:
    path = write_config(config({"a": ALERT_SQL}))
    fresh = tmp_path / "fresh" / "state.db"
    done = cli("run", path, "--dry-run", "--state-db", f"sqlite:///{fresh}", "--json")
    assert done.rc == 0, done
    assert json.loads(done.stdout)[0]["transition"] == "firing"
    assert not fresh.exists()  # not even an empty database file

    assert cli("run", path, "--state-db", state_url).rc == 0
    hook = "    notify: [{channel: webhook, url: 'http://127.0.0.1:9/x'}]"
    path.write_text(config({"a": OK_SQL}, notify=hook))
    done = cli("run", path, "--dry-run", "--state-db", state_url, "--json")
    assert done.rc == 0, done
    [row] = json.loads(done.stdout)
    assert (row["state"], row["transition"], row["previous_state"]) == ("OK", "resolved", "ALERT")
    [before] = rows(state_url)
    assert before["state"] == "ALERT"
    with StateDB(state_url).read() as tx:
        assert tx.scalar("SELECT state FROM alert_state") == "ALERT"
        assert tx.scalar("SELECT count(*) FROM notifications") == 0


def test_postgresql_state_db(cli, write_config, pg_url: str) -> None:
    path = write_config(config({"a": ALERT_SQL, "b": OK_SQL}))
    url = pg_url.replace("postgresql+psycopg://", "postgresql://")  # normalised by sqlsentinel
    for _ in range(2):
        done = cli("run", path, "--state-db", url, "--triggered-by", "CRON")
        assert done.rc == 0, done
    state = StateDB(pg_url)
    assert state.schema_version() == SCHEMA_VERSION
    assert [r["transition"] for r in rows(pg_url, "a")] == ["still_firing", "firing"]
    assert {r["triggered_by"] for r in rows(pg_url)} == {"CRON"}
    assert len(rows(pg_url)) == 4


def test_unreachable_state_db_exits_4(cli, write_config, pg_server: str) -> None:
    path = write_config(config({"a": OK_SQL}))
    done = cli("run", path, "--state-db", f"{pg_server}/no_such_database")
    assert done.rc == 4, done
    assert done.stderr.startswith("error: ") and "no_such_database" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_state_db_in_unwritable_place_exits_4(cli, write_config, tmp_path: Path) -> None:
    path = write_config(config({"a": OK_SQL}))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = cli("run", path, "--state-db", f"sqlite:///{blocker}/state.db")
    assert done.rc == 4, done
    assert "state database" in done.stderr and "Traceback" not in done.stderr


class _Hooks(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]]
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []
    handler = type("Hooks", (_Hooks,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_one_webhook_delivery_per_transition(cli, write_config, state_url: str, webhook) -> None:
    base, received = webhook
    notify = f"    notify: [{{channel: webhook, url: '{base}/{{name}}'}}]"
    path = write_config(config({"a": ALERT_SQL}, notify=notify))
    for _ in range(2):
        assert cli("run", path, "--state-db", state_url).rc == 0
    assert [(p, b["reason"], b["alert"]) for p, b in received] == [("/a", "firing", "a")]
    assert rows(state_url, "a")[1]["notified"][0]["outcome"] == "delivered"


KEYED_SQL = " UNION ALL ".join(f"SELECT {k} AS k, 'ALERT' AS status" for k in range(1, 6))


def _all_at_once(cli, path: Path, url: str, alerts: list[str]) -> None:
    """Start a run of each of `alerts` at the same moment; all must succeed, none wait out."""
    argv = [*cli.argv, "run", str(path), "--triggered-by", "CRON", "--state-db", url, "--alert"]
    procs = [
        subprocess.Popen(
            [*argv, name],
            cwd=cli.cwd,
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in alerts
    ]
    results = [(p.args[-1], *p.communicate(timeout=240), p.returncode) for p in procs]
    failures = [(n, rc, err) for n, _, err, rc in results if rc != 0]
    assert failures == []
    assert not [n for n, _, err, _ in results if "locked" in err.lower()]


@pytest.mark.parametrize("keyed", [False, True], ids=["one_row", "keyed"])
def test_concurrent_runs_lose_nothing_and_notify_once(
    cli, write_config, tmp_path: Path, webhook, keyed: bool
) -> None:
    """50 runs of different alerts + 10 of one alert, all at once, on a fresh SQLite state DB.
    `keyed`: that one alert has five instances, each notified exactly once."""
    base, received = webhook
    names = [f"alert_{i:02d}" for i in range(50)] + ["shared"]
    notify = f"    notify: [{{channel: webhook, url: '{base}/{{name}}', max_attempts: 1}}]"
    sql = {**dict.fromkeys(names, ALERT_SQL), "shared": KEYED_SQL if keyed else ALERT_SQL}
    text = config(sql, notify=notify)
    if keyed:
        text = text.replace("- name: shared\n", "- name: shared\n    key: k\n")
    path = write_config(text)
    url = f"sqlite:///{tmp_path / 'concurrent' / 'state.db'}"
    # warm the compiled cache (as install-units would) without touching the state DB under test
    warm_db = f"sqlite:///{tmp_path}/w.db"
    warm = cli("run", path, "--alert", "shared", "--dry-run", "--state-db", warm_db)
    assert warm.rc == 0, warm

    _all_at_once(cli, path, url, names[:50] + ["shared"] * 10)
    state = StateDB(url)
    with state.read() as tx:
        counted = tx.all("SELECT alert, count(*) AS n FROM history GROUP BY alert")
        per_alert = {r["alert"]: r["n"] for r in counted}
        found = tx.all("SELECT transition FROM history WHERE alert = ?", ("shared",))
        shared = Counter(r["transition"] for r in found)
        statuses = Counter(r["status"] for r in tx.all("SELECT status FROM notifications"))
    assert sum(per_alert.values()) == 60
    assert per_alert["shared"] == 10 and all(per_alert[n] == 1 for n in names[:50])
    assert shared == {"firing": 1, "still_firing": 9}
    assert statuses == {"delivered": 51}
    hits = Counter(p for p, _ in received)
    assert hits["/shared"] == 1
    assert hits == {f"/{n}": 1 for n in names}
    bodies = {p: b for p, b in received}
    assert {b["reason"] for p, b in bodies.items() if p != "/shared"} == {"firing"}
    if keyed:
        told = [(i["key"]["k"], i["reason"]) for i in bodies["/shared"]["instances"]]
        assert sorted(told) == [(k, "firing") for k in range(1, 6)]


def test_concurrent_runs_of_a_keyed_alert_on_postgresql(cli, write_config, pg_url: str,
                                                        webhook) -> None:  # fmt: skip
    """Ten runs of one keyed alert at once on PostgreSQL: each instance is told once."""
    base, received = webhook
    notify = f"    notify: [{{channel: webhook, url: '{base}/{{name}}', max_attempts: 1}}]"
    text = config({"shared": KEYED_SQL}, notify=notify)
    path = write_config(text.replace("- name: shared\n", "- name: shared\n    key: k\n"))
    warm = cli("run", path, "--dry-run", "--state-db", pg_url)
    assert warm.rc == 0, warm
    _all_at_once(cli, path, pg_url, ["shared"] * 10)
    [(path_, body)] = received
    assert path_ == "/shared"
    assert sorted(i["key"]["k"] for i in body["instances"]) == [1, 2, 3, 4, 5]
    transitions = Counter(r["transition"] for r in rows(pg_url, "shared"))
    assert transitions == {"firing": 1, "still_firing": 9}
    with StateDB(pg_url).read() as tx:
        assert tx.scalar("SELECT count(*) FROM instance_state WHERE state = 'ALERT'") == 5
