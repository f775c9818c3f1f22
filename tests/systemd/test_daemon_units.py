"""The shipped supervisor unit (`systemd/sqlsentinel.service`) and the alert services the
daemon generates in system mode, checked with `systemd-analyze` (no manager needed)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support import render_units
from systemd_harness import REPO

from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.systemd.units import UnitOptions

SHIPPED = REPO / "systemd" / "sqlsentinel.service"


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True)


def _score(unit: Path) -> float:
    out = _analyze("security", "--offline=yes", "--no-pager", str(unit)).stdout
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert found is not None, out
    return float(found.group(1))


def test_the_shipped_unit_is_what_packages_expect() -> None:
    settings = dict(
        line.split("=", 1)
        for line in SHIPPED.read_text().splitlines()
        if "=" in line and line[0] != "#"
    )
    assert settings["ExecStart"].startswith(
        "/usr/bin/sqlsentinel daemon /etc/sqlsentinel/alerts.yaml --system"
    )
    assert settings["EnvironmentFile"] == "-/etc/sqlsentinel/sqlsentinel.env"
    assert settings["ExecReload"] == "/usr/bin/sqlsentinel reload --pid $MAINPID"
    assert (settings["Type"], settings["Restart"], settings["WatchdogSec"]) == (
        "notify", "on-failure", "30s"
    )  # fmt: skip
    assert settings["ReadWritePaths"] == "/run/systemd/system /var/lib/sqlsentinel"


def test_the_shipped_unit_verifies_silently_and_scores_2_5_or_lower(tmp_path: Path) -> None:
    program = tmp_path / "sqlsentinel"  # stands in for /usr/bin/sqlsentinel, not installed here
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    unit = tmp_path / "sqlsentinel.service"  # the user unit: tests/daemon/test_systemd_daemon.py
    unit.write_text(SHIPPED.read_text().replace("/usr/bin/sqlsentinel", str(program)))
    verify = _analyze("verify", "--man=no", str(unit))
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", "")
    assert _score(unit) <= 2.5


def test_with_a_static_sqlsentinel_user_services_run_as_it_and_stay_tight(
    tmp_path: Path,
) -> None:
    options = UnitOptions(
        True,
        ("/usr/bin/python3", "-m", "sqlsentinel"),
        "/etc/sqlsentinel/alerts.yaml",
        applied="/var/lib/sqlsentinel/applied/0123456789abcdef",
        static_user=True,
    )
    alert = AlertSpec("disk full", "SELECT 1", "0 * * * *", DatabaseSpec("sqlite:///x.db"))
    rendered = render_units(alert, ["*-*-* *:00:00 UTC"], options)
    for name, text in rendered.files.items():
        (tmp_path / name).write_text(text)
    service = (tmp_path / f"{rendered.base}.service").read_text()
    assert "User=sqlsentinel\nGroup=sqlsentinel\n" in service and "DynamicUser" not in service
    assert (
        '"run" "/etc/sqlsentinel/alerts.yaml" "--applied" '
        '"/var/lib/sqlsentinel/applied/0123456789abcdef" "--alert" "disk full"'
    ) in service
    verify = _analyze("verify", "--man=no", *(str(tmp_path / n) for n in rendered.files))
    noise = [
        line
        for line in (verify.stdout + verify.stderr).splitlines()
        if "is not executable" not in line and "/usr/bin/python3" not in line
    ]
    assert noise == []
    assert _score(tmp_path / f"{rendered.base}.service") <= 2.0
