"""The .deb's life in a booted Debian 12: install, run, upgrade, remove, purge.

One container boots for the module and the tests run in file order, each a stage of the
package's life (install → run → upgrade → remove → purge); a failed stage makes the
later ones fail too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from booted_debian import BootedDebian, booted
from package_build import UPGRADE_VERSION, VERSION, Packages
from support import check_exposition

CONFIG = "/etc/sqlsentinel/alerts.yaml"
ENV_FILE = "/etc/sqlsentinel/sqlsentinel.env"
BY_HAND = "/etc/sqlsentinel/by-hand.yaml"  # units installed by hand, beside the daemon's
EVERY_MINUTE = """\
  - name: {name}
    query: SELECT 'OK' AS status
    schedule: "* * * * *"
"""
BY_HAND_CONFIG = "database:\n  url: sqlite:////usr/share/sqlsentinel/example.db\nalerts:\n"
METRICS_TIMER, METRICS_SERVICE = "sqlsentinel-metrics.timer", "sqlsentinel-metrics.service"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"  # Debian's node_exporter textfile folder
TEXTFILE = f"{TEXTFILE_DIR}/sqlsentinel.prom"


@pytest.fixture(scope="module")
def debian(packages: Packages, systemd_rootfs: Path) -> Iterator[BootedDebian]:
    """One booted Debian 12 for the whole life of the package; /dist holds the packages."""
    with booted(systemd_rootfs, {packages.deb.parent: "/dist"}) as machine:
        yield machine


def _timers(debian: BootedDebian) -> str:
    return debian.run("systemctl", "list-timers", "--all", "--no-pager", "sqlsentinel-*").stdout


def _history(debian: BootedDebian, config: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(
        debian.run("sqlsentinel", "history", config, "--json").stdout
    )
    return rows


def _failed_units(debian: BootedDebian) -> str:
    return debian.run("systemctl", "--failed", "--plain", "--no-legend").stdout


def _wait_for_cron_row(debian: BootedDebian, config: str, alert: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = _history(debian, config)
        if any(r["alert"] == alert and r["triggered_by"] == "CRON" for r in rows):
            return
        time.sleep(2)
    journal = debian.run("journalctl", "--no-pager", "-n", "40", check=False).stdout
    raise AssertionError(f"no CRON run of {alert} within {seconds} s\n{journal}")


def test_apt_installs_the_deb_with_its_dependencies(
    debian: BootedDebian, packages: Packages
) -> None:
    debian.run("apt-get", "install", "-y", f"/dist/{packages.deb.name}")
    status = debian.run("dpkg-query", "-W", "-f", "${Status} ${Version}", "sqlsentinel").stdout
    assert status == f"install ok installed {VERSION}"


def test_the_command_runs_from_bytecode_compiled_at_build_time(debian: BootedDebian) -> None:
    version = debian.run("sqlsentinel", "--version").stdout
    assert version == f"sqlsentinel, version {VERSION}\n"
    as_user = ("runuser", "-u", "sqlsentinel", "--", "sqlsentinel")
    assert "ok: 1 alerts" in debian.run(*as_user, "validate", CONFIG).stdout
    dry_run = debian.run(*as_user, "run", CONFIG, "--dry-run").stdout
    assert "example_failed_jobs" in dry_run and " OK " in dry_run
    written = debian.sh("find /opt/sqlsentinel -newer /var/lib/dpkg/info/sqlsentinel.list")
    assert written == "", "Python wrote byte code at run time"


def test_the_user_state_folder_and_config_files_exist(debian: BootedDebian) -> None:
    user = debian.run("getent", "passwd", "sqlsentinel").stdout.strip().split(":")
    assert user[5:] == ["/var/lib/sqlsentinel", "/usr/sbin/nologin"] and int(user[2]) < 1000
    owners = debian.sh(f"stat -c '%U %G %a %n' /var/lib/sqlsentinel {CONFIG} {ENV_FILE}")
    assert owners.splitlines() == [
        "sqlsentinel sqlsentinel 750 /var/lib/sqlsentinel",
        f"root root 644 {CONFIG}",
        f"root root 600 {ENV_FILE}",
    ]


def test_the_daemon_is_enabled_and_active(debian: BootedDebian) -> None:
    assert debian.run("systemctl", "is-enabled", "sqlsentinel").stdout.strip() == "enabled"
    debian.sh("for i in $(seq 50); do systemctl -q is-active sqlsentinel && exit; sleep 0.2; done")
    assert debian.run("systemctl", "is-active", "sqlsentinel").stdout.strip() == "active"


def test_the_example_alert_timer_appears_by_itself(debian: BootedDebian) -> None:
    assert "sqlsentinel-example-failed-jobs-" in _timers(debian)
    assert debian.sh("ls /run/systemd/system | grep '^sqlsentinel-example-failed-jobs-'")


def test_units_installed_by_hand_fire_and_record_a_cron_run(debian: BootedDebian) -> None:
    debian.write(BY_HAND, BY_HAND_CONFIG + EVERY_MINUTE.format(name="by_hand_every_minute"))
    debian.run("sqlsentinel", "install-units", "--system", BY_HAND,
               "--exec", "/usr/bin/sqlsentinel", "--env-file", ENV_FILE)  # fmt: skip
    assert "sqlsentinel-by-hand-every-minute-" in _timers(debian)
    _wait_for_cron_row(debian, BY_HAND, "by_hand_every_minute", 75)
    assert _failed_units(debian) == ""


def test_an_edit_adds_a_timer_within_seconds(debian: BootedDebian) -> None:
    config = debian.run("cat", CONFIG).stdout
    debian.write(CONFIG, config + EVERY_MINUTE.format(name="daemon_every_minute"))
    written = time.monotonic()
    while "sqlsentinel-daemon-every-minute-" not in _timers(debian):
        assert time.monotonic() - written < 10, "no timer 10 s after the edit"
        time.sleep(0.2)


def test_a_broken_edit_keeps_the_timers(debian: BootedDebian) -> None:
    good = debian.run("cat", CONFIG).stdout
    before = _timers(debian)
    debian.write(CONFIG, good + "  - name: [broken\n")
    time.sleep(5)
    status = debian.run("systemctl", "show", "-p", "StatusText", "--value", "sqlsentinel").stdout
    assert "invalid" in status
    assert debian.run("systemctl", "is-active", "sqlsentinel").stdout.strip() == "active"
    for name in ("sqlsentinel-example-failed-jobs-", "sqlsentinel-daemon-every-minute-"):
        assert name in before and name in _timers(debian)
    debian.write(CONFIG, good)


def test_the_daemon_s_timer_records_a_cron_run(debian: BootedDebian) -> None:
    _wait_for_cron_row(debian, CONFIG, "daemon_every_minute", 75)
    assert _failed_units(debian) == ""


def test_the_metrics_timer_writes_node_exporter_s_textfile(debian: BootedDebian) -> None:
    """Issue 17.15: enabled by the package; its service skips a host without node_exporter's
    folder and, once the folder exists, writes the textfile node_exporter reads."""
    assert debian.run("systemctl", "is-enabled", METRICS_TIMER).stdout.strip() == "enabled"
    assert debian.run("systemctl", "is-active", METRICS_TIMER).stdout.strip() == "active"
    debian.run("systemctl", "start", METRICS_SERVICE)  # a oneshot: returns when it ended
    assert not debian.exists(TEXTFILE)
    debian.run("mkdir", "-p", TEXTFILE_DIR)
    debian.run("systemctl", "start", METRICS_SERVICE)
    assert debian.sh(f"stat -c '%U %a' {TEXTFILE}") == "root 644\n"
    text = debian.run("cat", TEXTFILE).stdout
    assert 'sqlsentinel_runs_total{alert="daemon_every_minute",outcome="ok"} ' in text
    check_exposition(text.encode())
    assert _failed_units(debian) == ""


def test_an_upgrade_keeps_the_edited_config_the_history_and_the_timers(
    debian: BootedDebian, packages: Packages
) -> None:
    edited = debian.run("cat", CONFIG).stdout + "# edited before the upgrade\n"
    debian.write(CONFIG, edited)
    runs = len(_history(debian, BY_HAND))
    debian.run("apt-get", "install", "-y", f"/dist/{packages.upgrade_deb.name}")
    version = debian.run("dpkg-query", "-W", "-f", "${Version}", "sqlsentinel").stdout
    assert version == UPGRADE_VERSION
    assert debian.run("cat", CONFIG).stdout == edited
    assert debian.sh("ls /etc/sqlsentinel") == "alerts.yaml\nby-hand.yaml\nsqlsentinel.env\n"
    assert len(_history(debian, BY_HAND)) >= runs > 0
    assert "sqlsentinel-by-hand-every-minute-" in _timers(debian)


def test_an_upgrade_restarts_the_daemon(debian: BootedDebian, packages: Packages) -> None:
    def invocation() -> str:
        return debian.run("systemctl", "show", "-p", "InvocationID", "sqlsentinel").stdout

    before = invocation()
    debian.run("apt-get", "install", "-y", "--reinstall", f"/dist/{packages.upgrade_deb.name}")
    assert invocation() != before
    assert debian.run("systemctl", "is-active", "sqlsentinel").stdout.strip() == "active"
    assert "sqlsentinel-daemon-every-minute-" in _timers(debian)


def test_remove_stops_and_removes_every_alert_unit_and_keeps_config_and_state(
    debian: BootedDebian,
) -> None:
    debian.run("apt-get", "remove", "-y", "sqlsentinel")
    # the package's own timer stays known, stopped and masked, as debhelper leaves a timer
    assert "sqlsentinel-" not in _timers(debian).replace(METRICS_TIMER, "")
    units = "ls /etc/systemd/system /run/systemd/system | grep sqlsentinel-"
    assert debian.sh(f"{units} | grep -vx {METRICS_TIMER}", False) == ""
    masked = debian.run("systemctl", "is-enabled", METRICS_TIMER, check=False).stdout.strip()
    assert masked == "masked"
    assert debian.run("systemctl", "is-active", METRICS_TIMER, check=False).stdout.strip() in (
        "inactive",
        "unknown",
    )
    active = debian.run("systemctl", "is-active", "sqlsentinel", check=False).stdout.strip()
    assert active in ("inactive", "unknown")
    for path in (CONFIG, ENV_FILE, "/var/lib/sqlsentinel/state.db"):
        assert debian.exists(path), path
    assert not debian.exists(TEXTFILE)  # node_exporter would go on exporting it
    assert not debian.exists("/opt/sqlsentinel")


def test_purge_leaves_no_unit_timer_user_state_or_config(debian: BootedDebian) -> None:
    debian.run("apt-get", "purge", "-y", "sqlsentinel")
    assert debian.run("dpkg-query", "-W", "sqlsentinel", check=False).returncode != 0
    left = debian.sh(
        "find /etc /run/systemd /lib/systemd /usr/lib/systemd /var/lib /var/cache /opt"
        " -name '*sqlsentinel*' 2>/dev/null || true"
    )
    assert left == ""
    units = debian.run("systemctl", "list-units", "--all", "--plain", "--no-legend", "sqlsentinel*")
    assert units.stdout.strip() == ""
    for database in ("passwd", "group"):
        assert debian.run("getent", database, "sqlsentinel", check=False).returncode == 2
