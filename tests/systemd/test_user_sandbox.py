"""A sandboxed user alert service (PrivateUsers=, ProtectSystem=strict, read-only home) runs a
tick under a real `systemd --user` manager and writes the config's own state database."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from systemd_harness import UserManager, write_config

from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.systemd.userns import user_sandbox_allowed

pytestmark = pytest.mark.systemd


def test_a_sandboxed_user_alert_service_runs_a_tick(units: UserManager, workdir: Path) -> None:
    assert user_sandbox_allowed(), "this kernel refuses user namespaces: no sandbox to test"
    config = write_config(
        workdir, "- name: sandboxed\n  query: SELECT 'ALERT' AS status\n  schedule: '0 4 * * *'\n"
    )
    units.sqlsentinel("install-units", "--user", str(config))
    service = unit_base("sandboxed") + ".service"
    shown = units.show(
        service, "PrivateUsers", "ProtectSystem", "ProtectHome", "PrivateTmp", "ReadWritePaths"
    )
    assert (shown["PrivateUsers"], shown["ProtectSystem"], shown["ProtectHome"]) == (
        "yes", "strict", "read-only"
    )  # fmt: skip
    # a private /tmp would hide an interpreter in /tmp (a checkout there): then it has none
    in_tmp = sys.executable.startswith(("/tmp/", "/var/tmp/"))
    assert shown["PrivateTmp"] == ("no" if in_tmp else "yes")
    assert f"-{workdir}" in shown["ReadWritePaths"].split()
    units.systemctl("start", service)
    assert units.show(service, "Result")["Result"] == "success"
    with sqlite3.connect(workdir / "state.db") as db:  # the config's state_db: (17.17)
        rows = db.execute("SELECT alert, outcome FROM history").fetchall()
    assert [alert for alert, _ in rows] == ["sandboxed"]
