"""The shipped user unit (`systemd/user/sqlsentinel.service`) running `sqlsentinel daemon`
as a Type=notify service of a real `systemd --user` manager (see tests/systemd/conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemon_http import get
from support import free_port
from systemd_harness import REPO, UserManager

from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.systemctl import LISTING_S, Systemctl

pytestmark = pytest.mark.systemd
UNIT = "sqlsentinel.service"
OK = "SELECT 'OK' AS status"


def alert(name: str, cron: str = "0 4 * * *", query: str = OK, extra: str = "") -> str:
    return f"  - name: {name}\n    query: \"{query}\"\n    schedule: '{cron}'\n{extra}"


def config_text(workdir: Path, *alerts: str) -> str:
    return (
        f"database:\n  url: sqlite:///{workdir}/target.db\nstate_db: sqlite:///{workdir}/state.db\n"
        "alerts:\n" + "".join(alerts)
    )


class Daemon:
    """The daemon's unit in the test manager, started on `config`."""

    def __init__(self, um: UserManager, workdir: Path) -> None:
        self.um, self.workdir = um, workdir
        self.unit_dir = Path(um.env["XDG_RUNTIME_DIR"]) / "systemd" / "user"

    def install(self, config: Path, *args: str, watchdog: str = "30s") -> Path:
        text = (REPO / "systemd" / "user" / UNIT).read_text()
        text = text.replace("/usr/bin/sqlsentinel", f"{sys.executable} -m sqlsentinel")
        text = text.replace("%h/.config/sqlsentinel/alerts.yaml", f"{config} {' '.join(args)}")
        text = text.replace("%h/.config/sqlsentinel", str(self.workdir))
        text = text.replace("WatchdogSec=30s", f"WatchdogSec={watchdog}")
        state = self.um.env["STATE_DIRECTORY"]  # applied copies: not the machine's folder
        text = text.replace("[Service]\n", f"[Service]\nEnvironment=STATE_DIRECTORY={state}\n")
        self.um.unit_dir.mkdir(parents=True, exist_ok=True)
        path = self.um.unit_dir / UNIT
        path.write_text(text)
        self.um.systemctl("daemon-reload")
        return path

    def start(self, config: Path, *args: str, watchdog: str = "30s") -> None:
        self.install(config, *args, watchdog=watchdog)
        self.um.systemctl("start", UNIT)

    def prop(self, name: str) -> str:
        return self.um.show(UNIT, name)[name]

    def timers(self) -> dict[str, int]:
        rows = json.loads(self.um.systemctl("list-timers", "--all", "--output=json"))
        return {r["unit"]: r["next"] for r in rows if r["unit"].startswith("sqlsentinel-")}

    def history(self) -> list[tuple[str, str]]:
        if not (self.workdir / "state.db").exists():
            return []
        with sqlite3.connect(self.workdir / "state.db") as db:
            return db.execute("SELECT alert, outcome FROM history ORDER BY id").fetchall()

    def run_service(self, name: str) -> str:
        """Start an alert's service (as its timer would) and return its Result."""
        service = unit_base(name) + ".service"
        self.um.systemctl("start", service, check=False)
        return self.um.show(service, "Result")["Result"]


def wait_until(check: Callable[[], object], timeout: float) -> float:
    """Seconds until `check()` was true (AssertionError after `timeout`)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture
def daemon(user_manager: UserManager, workdir: Path) -> Iterator[Daemon]:
    d = Daemon(user_manager, workdir)
    yield d
    user_manager.systemctl("stop", UNIT, check=False)
    user_manager.systemctl("reset-failed", check=False)
    (user_manager.unit_dir / UNIT).unlink(missing_ok=True)
    user_manager.sqlsentinel(
        "uninstall-units", "--user", "--unit-dir", str(d.unit_dir), check=False
    )


def test_active_only_after_ready_with_a_status_line_and_a_silent_verify(
    daemon: Daemon, workdir: Path
) -> None:
    config = workdir / "alerts.yaml"
    config.write_text(config_text(workdir, alert("daily revenue", "0 9 * * *")))
    unit = daemon.install(config)
    verify = daemon.um.run(
        "systemd-analyze", "--user", "verify", "--man=no", str(unit), check=False
    )
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", "")
    daemon.um.systemctl("start", UNIT)  # Type=notify: returns once READY=1 arrived
    assert daemon.prop("ActiveState") == "active"
    assert set(daemon.timers()) == {unit_base("daily revenue") + ".timer"}  # applied before READY
    status = daemon.prop("StatusText")
    assert status.startswith("1 alert scheduled; next: daily revenue at ")
    assert status.endswith(" 09:00 UTC")
    assert daemon.run_service("daily revenue") == "success"
    assert daemon.history() == [("daily revenue", "ok")]


def test_an_added_alert_gets_its_timer_within_5s_however_the_file_is_saved(
    daemon: Daemon, workdir: Path
) -> None:
    """A ConfigMap layout: alerts.yaml -> ..data/alerts.yaml, ..data -> ..v1."""
    for version in ("..v1", "..v2"):
        (workdir / version).mkdir()
    target = workdir / "..v1" / "alerts.yaml"
    target.write_text(config_text(workdir, alert("one")))
    (workdir / "..data").symlink_to("..v1")
    (workdir / "alerts.yaml").symlink_to("..data/alerts.yaml")
    daemon.start(workdir / "alerts.yaml")
    assert set(daemon.timers()) == {unit_base("one") + ".timer"}

    with open(target, "a") as f:  # in place
        f.write(alert("two"))
    took = [wait_until(lambda: unit_base("two") + ".timer" in daemon.timers(), 5)]
    aside = workdir / "..v1" / ".alerts.yaml.swp"  # an editor's save by rename
    aside.write_text(config_text(workdir, alert("one"), alert("two"), alert("three")))
    os.replace(aside, target)
    took.append(wait_until(lambda: unit_base("three") + ".timer" in daemon.timers(), 5))
    (workdir / "..v2" / "alerts.yaml").write_text(config_text(workdir, alert("four")))
    (workdir / "..data_tmp").symlink_to("..v2")
    os.replace(workdir / "..data_tmp", workdir / "..data")  # the swap
    took.append(wait_until(lambda: set(daemon.timers()) == {unit_base("four") + ".timer"}, 5))
    assert max(took) < 5
    wait_until(lambda: daemon.prop("StatusText").startswith("1 alert scheduled; next: four "), 5)


def test_a_broken_edit_changes_nothing_until_fixed(daemon: Daemon, workdir: Path) -> None:
    config = workdir / "alerts.yaml"
    config.write_text(config_text(workdir, alert("steady")))
    daemon.start(config)
    units = {p.name: p.read_text() for p in daemon.unit_dir.glob("sqlsentinel-*")}
    applied = next((Path(daemon.um.env["STATE_DIRECTORY"]) / "applied").glob("*/config.yaml"))
    copy = applied.read_bytes()

    config.write_text(config_text(workdir, alert("steady"), alert("new", "61 * * * *")))
    wait_until(lambda: daemon.prop("StatusText").startswith("config invalid since"), 5)
    status = daemon.prop("StatusText")
    assert "alerts.yaml:10: alerts[1].schedule (alert 'new'): `61` is out of range" in status
    assert "; running the config applied at " in status
    time.sleep(1)
    assert {p.name: p.read_text() for p in daemon.unit_dir.glob("sqlsentinel-*")} == units
    assert applied.read_bytes() == copy
    assert daemon.run_service("steady") == "success"  # the service runs the applied copy
    assert daemon.history() == [("steady", "ok")]
    journal = daemon.um.in_namespace("journalctl", "--no-pager", "-t", "sqlsentinel").stdout
    assert f"config invalid: {config}:10: alerts[1].schedule (alert 'new')" in journal

    config.write_text(config_text(workdir, alert("steady"), alert("new", "1 * * * *")))
    wait_until(lambda: unit_base("new") + ".timer" in daemon.timers(), 5)
    wait_until(lambda: daemon.prop("StatusText").startswith("2 alerts scheduled"), 5)


def test_an_unset_variable_in_one_alert_does_not_stop_another(
    daemon: Daemon, workdir: Path
) -> None:
    config = workdir / "alerts.yaml"
    config.write_text(config_text(workdir, alert("good")))
    daemon.start(config)
    hook = "    notify:\n      - channel: webhook\n        url: ${SQLSENTINEL_TEST_UNSET_URL}\n"
    config.write_text(config_text(workdir, alert("good"), alert("other", extra=hook)))
    wait_until(lambda: "SQLSENTINEL_TEST_UNSET_URL" in daemon.prop("StatusText"), 5)
    assert daemon.run_service("good") == "success"
    assert daemon.run_service("good") == "success"
    assert daemon.history() == [("good", "ok"), ("good", "ok")]


def test_a_broken_alert_keeps_its_timer_and_records_its_error(
    daemon: Daemon, workdir: Path
) -> None:
    """An alert whose environment breaks is not unscheduled (that would hide it): its
    timer stays, and each run records the error (exit 3) until the variable is set."""
    config = workdir / "alerts.yaml"
    hook = "    notify:\n      - channel: webhook\n        url: {}\n"
    url = hook.format("http://127.0.0.1:9/hook")
    config.write_text(config_text(workdir, alert("good"), alert("other", extra=url)))
    daemon.start(config)
    timer = unit_base("other") + ".timer"
    wait_until(lambda: timer in daemon.timers(), 5)
    unset = hook.format("${SQLSENTINEL_TEST_UNSET_URL}")
    config.write_text(config_text(workdir, alert("good"), alert("other", extra=unset)))
    wait_until(lambda: "1 broken: other: " in daemon.prop("StatusText"), 5)
    assert daemon.prop("StatusText").startswith("2 alerts scheduled")
    assert timer in daemon.timers()
    assert daemon.run_service("other") == "exit-code"
    assert daemon.history() == [("other", "config_error")]


def test_reload_returns_after_applying_and_refuses_a_broken_file(
    daemon: Daemon, workdir: Path
) -> None:
    config = workdir / "alerts.yaml"
    config.write_text(config_text(workdir, alert("first")))
    daemon.start(config, "--no-reload")  # only `systemctl reload` applies
    config.write_text(config_text(workdir, alert("first"), alert("second")))
    time.sleep(1.5)
    assert unit_base("second") + ".timer" not in daemon.timers()
    daemon.um.systemctl("reload", UNIT)
    assert unit_base("second") + ".timer" in daemon.timers()  # already, when reload returned
    config.write_text("alerts: [\n")
    refused = daemon.um.run("systemctl", "--user", "reload", UNIT, check=False)
    assert refused.returncode != 0
    assert daemon.prop("ActiveState") == "active"
    wait_until(lambda: daemon.prop("StatusText").startswith("config invalid since"), 5)
    assert len(daemon.timers()) == 2


def test_killed_or_hung_it_is_restarted_and_a_stop_leaves_the_timers(
    daemon: Daemon, workdir: Path
) -> None:
    config = workdir / "alerts.yaml"
    config.write_text(config_text(workdir, alert("kept")))
    daemon.start(config, watchdog="3s")
    pid = int(daemon.prop("MainPID"))
    os.kill(pid, signal.SIGKILL)  # Restart=on-failure
    wait_until(
        lambda: daemon.prop("NRestarts") == "1" and daemon.prop("ActiveState") == "active", 20
    )
    hung = int(daemon.prop("MainPID"))
    assert hung != pid
    os.kill(hung, signal.SIGSTOP)  # the main loop stops pinging: the watchdog fires
    wait_until(
        lambda: daemon.prop("NRestarts") == "2" and daemon.prop("ActiveState") == "active", 30
    )
    assert int(daemon.prop("MainPID")) not in (pid, hung)

    started = time.monotonic()
    daemon.um.systemctl("stop", UNIT)
    assert time.monotonic() - started < 10  # on SIGTERM, not at TimeoutStopSec=30s
    assert daemon.prop("ExecMainStatus") == "0" and daemon.prop("Result") == "success"
    assert set(daemon.timers()) == {unit_base("kept") + ".timer"}  # independent units
    status = daemon.um.sqlsentinel("status", str(config)).stderr
    assert "daemon: stopped (systemd backend" in status


def test_a_non_ascii_status_line_reaches_systemd_intact(daemon: Daemon, workdir: Path) -> None:
    """STATUS= goes as UTF-8: systemd drops a status that is not, so a Latin-1 line naming
    `Paiements échoués` left `systemctl status` blank. The journal gets UTF-8 too, whatever
    the daemon's locale says (a Latin-1 one made every such line a blob)."""
    config = workdir / "alerts.yaml"
    config.write_text(config_text(workdir, alert("Paiements échoués", "0 9 * * *")))
    unit = daemon.install(config)
    text = unit.read_text().replace(
        "[Service]\n", "[Service]\nEnvironment=PYTHONIOENCODING=latin-1\n"
    )
    unit.write_text(text)
    daemon.um.systemctl("daemon-reload")
    daemon.um.systemctl("start", UNIT)
    assert daemon.prop("StatusText").startswith("1 alert scheduled; next: Paiements échoués at ")
    config.write_text(config_text(workdir, alert("Paiements échoués", "61 9 * * *")))
    wait_until(lambda: daemon.prop("StatusText").startswith("config invalid since"), 5)
    assert "(alert 'Paiements échoués'): `61` is out of range" in daemon.prop("StatusText")
    journal = daemon.um.in_namespace(
        "journalctl", "--no-pager", "--output=cat", "-t", "sqlsentinel"
    ).stdout
    assert f"config invalid: {config}:7: alerts[0].schedule (alert 'Paiements échoués')" in journal


def test_every_message_of_the_notifier_reaches_a_real_manager_in_utf8(
    user_manager: UserManager,
) -> None:
    """`systemd-run -p Type=notify`: the unit becomes active on READY=1 with its status."""
    script = (
        "import time\nfrom sqlsentinel.daemon.sd_notify import Notifier\n"
        "n = Notifier()\nassert n.active\nn.ready('prêt: Paiements échoués, 漢字 ✓')\n"
        "time.sleep(0.5)\nn.status('Équipe Ops → ok')\ntime.sleep(60)\n"
    )
    unit = "sqlsentinel-notify-probe.service"
    user_manager.run(
        "systemd-run", "--user", "--unit", unit, "-p", "Type=notify", "-p", "NotifyAccess=main",
        "--setenv", f"PYTHONPATH={REPO}", sys.executable, "-c", script,
    )  # fmt: skip
    try:
        assert user_manager.show(unit, "ActiveState", "StatusText") == {
            "ActiveState": "active",
            "StatusText": "prêt: Paiements échoués, 漢字 ✓",
        }  # Type=notify: systemd-run returned once READY=1 arrived
        wait_until(
            lambda: (
                user_manager.show(unit, "StatusText")["StatusText"]
                != "prêt: Paiements échoués, 漢字 ✓"
            ),
            5,
        )
        assert user_manager.show(unit, "StatusText")["StatusText"] == "Équipe Ops → ok"
    finally:
        user_manager.systemctl("stop", unit, check=False)


def test_putting_back_the_applied_file_clears_the_invalid_state(
    daemon: Daemon, workdir: Path
) -> None:
    """The last good bytes back after a bad edit: valid again, without a reload."""
    port = free_port()
    config = workdir / "alerts.yaml"
    good = config_text(workdir, alert("steady", "0 9 * * *"))
    config.write_text(good)
    daemon.start(config, "--port", str(port))
    config.write_text(config_text(workdir, alert("steady", "61 9 * * *")))
    wait_until(lambda: daemon.prop("StatusText").startswith("config invalid since"), 5)
    assert "config invalid since" in get(port, "/health")[1]

    config.write_text(good)
    wait_until(lambda: daemon.prop("StatusText").startswith("1 alert scheduled; next: steady"), 5)
    code, body = get(port, "/health")
    assert code == 200 and body.startswith("1 alert scheduled; next: steady at ")
    status = daemon.um.sqlsentinel("status", str(config))
    assert "config invalid" not in status.stderr
    assert "the file on disk is the applied config" in status.stderr
    assert ": 1 alert scheduled; next: steady at " in status.stderr


def timer_active(daemon: Daemon, timer: str) -> bool:
    rows = json.loads(daemon.um.systemctl("list-units", "--all", "--output=json", timer))
    return any(r["unit"] == timer and r["active"] == "active" for r in rows)


def test_a_timer_stopped_by_hand_shows_stopped_and_every_apply_starts_it(
    daemon: Daemon, workdir: Path
) -> None:
    """The manager's state, not the files, is what an apply makes right; between applies
    the status line, /health and `status` show the timer's state, not a planned time."""
    port = free_port()
    config = workdir / "alerts.yaml"
    config.write_text(config_text(workdir, alert("steady", "0 9 * * *")))
    daemon.start(config, "--port", str(port))
    timer = unit_base("steady") + ".timer"
    stopped = "1 timer not running: steady (inactive)"

    def stop_by_hand() -> None:
        daemon.um.systemctl("stop", timer)
        wait_until(lambda: stopped in daemon.prop("StatusText"), 15)  # looked at every 5 s
        assert stopped in get(port, "/health")[1]
        rows = json.loads(daemon.um.sqlsentinel("status", str(config), "--json").stdout)
        assert [(r["alert"], r["next_run"]) for r in rows] == [("steady", "inactive")]

    stop_by_hand()
    daemon.um.systemctl("reload", UNIT)
    assert timer_active(daemon, timer)  # already when reload returned
    assert stopped not in daemon.prop("StatusText")
    rows = json.loads(daemon.um.sqlsentinel("status", str(config), "--json").stdout)
    assert rows[0]["next_run"].endswith("T09:00:00+00:00")

    stop_by_hand()
    daemon.um.systemctl("restart", UNIT)
    assert timer_active(daemon, timer)
    assert daemon.prop("StatusText").startswith("1 alert scheduled; next: steady at ")

    stop_by_hand()
    config.write_text(config_text(workdir, alert("steady", "0 9 * * *"), alert("added")))
    wait_until(lambda: daemon.prop("StatusText").startswith("2 alerts scheduled"), 10)
    assert timer_active(daemon, timer) and timer_active(daemon, unit_base("added") + ".timer")
    journal = daemon.um.in_namespace(
        "journalctl", "--no-pager", "--output=cat", "-t", "sqlsentinel"
    ).stdout
    assert f"1 timer not running started again: {timer}" in journal


def test_a_daemon_killed_mid_apply_has_its_timers_repaired_by_the_next_start(
    daemon: Daemon, workdir: Path
) -> None:
    """kill -9 after the apply wrote its files, before `daemon-reload` and the starts (a
    `systemctl` on PATH kills its caller at daemon-reload, once): the restarted daemon finds
    the same files, and still starts the new timers and makes the manager re-read the
    changed one."""
    shim, flag = workdir / "shim", workdir / "kill-at-daemon-reload"
    shim.mkdir()
    real = shutil.which("systemctl", path=daemon.um.env["PATH"])
    (shim / "systemctl").write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" daemon-reload "*) if [ -e {flag} ]; then rm -f {flag}; '
        "kill -9 $PPID; exit 1; fi;; esac\n"
        f'exec {real} "$@"\n'
    )
    (shim / "systemctl").chmod(0o755)
    config = workdir / "alerts.yaml"
    config.write_text(config_text(workdir, alert("one", "0 4 * * *")))
    unit = daemon.install(config)
    path = f"{shim}:{daemon.um.env['PATH']}"
    unit.write_text(
        unit.read_text().replace("[Service]\n", f"[Service]\nEnvironment=PATH={path}\n")
    )
    daemon.um.systemctl("daemon-reload")
    daemon.um.systemctl("start", UNIT)
    one = unit_base("one") + ".timer"
    before = daemon.timers()[one]

    flag.touch()
    new = [unit_base(n) + ".timer" for n in ("two", "three", "four")]
    config.write_text(
        config_text(
            workdir, alert("one", "0 5 * * *"), *(alert(n) for n in ("two", "three", "four"))
        )
    )
    wait_until(lambda: daemon.prop("SubState") == "auto-restart", 10)  # killed: RestartSec=5s
    assert not flag.exists() and all((daemon.unit_dir / t).exists() for t in new)
    assert daemon.timers() == {one: before}  # written, never started; one still at 04:00

    wait_until(
        lambda: daemon.prop("NRestarts") == "1" and daemon.prop("ActiveState") == "active", 30
    )
    timers = daemon.timers()
    assert set(timers) == {one, *new} and all(timers.values())
    assert timers[one] - before == 3600 * 1_000_000  # the manager re-read it: 05:00
    assert not list(daemon.unit_dir.glob(".sqlsentinel-pending-*"))


def test_a_listing_the_manager_does_not_answer_fails_within_its_bound(
    user_manager: UserManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's loop asks the manager between applies: a hung manager (SIGSTOP here)
    must not hold the loop past its watchdog."""
    for key in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "HOME", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.setenv(key, user_manager.env[key])
    manager = user_manager.pid  # unshare and sh exec it: `systemd --user` itself
    assert Path(f"/proc/{manager}/comm").read_text().strip() == "systemd"
    started = time.monotonic()
    os.kill(manager, signal.SIGSTOP)
    try:
        with pytest.raises(SystemdError, match="got no answer in 5s"):
            Systemctl(user=True).unit_states(["sqlsentinel-x.timer"])
    finally:
        os.kill(manager, signal.SIGCONT)
    assert time.monotonic() - started < LISTING_S + 5  # margin for a loaded machine
    assert Systemctl(user=True).unit_states(["sqlsentinel-x.timer"]) == {}
