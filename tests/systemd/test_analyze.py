"""The systemd-analyze wrapper, `verify_with_systemd` and `systemd-analyze security` of the
user-mode units (systemd-analyze is required)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import render_units

from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.schedule.translate import Translation, translate
from sqlsentinel.systemd import analyze as systemd_calendar
from sqlsentinel.systemd.analyze import verify_with_systemd
from sqlsentinel.systemd.daemon_unit import for_program, render_daemon_unit, shipped
from sqlsentinel.systemd.units import UnitOptions
from sqlsentinel.systemd.userns import user_sandbox_allowed

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def test_systemd_analyze_is_installed() -> None:
    assert systemd_calendar.available(), "install systemd (systemd-analyze) to run the proof"


def test_check_lines_reports_what_systemd_drops() -> None:
    good = "*-*-* *:00..55/5:00 UTC"
    problems = systemd_calendar.check_lines([good, "*:55/10", "*-*-* 00:00:00 Foo/Bar"])
    assert problems == [
        ("*:55/10", "Invalid argument"),
        ("*-*-* 00:00:00 Foo/Bar", "Invalid argument"),
    ]
    assert systemd_calendar.check_lines([]) == []


def test_next_elapses_in_utc_and_in_a_zone() -> None:
    utc, never = systemd_calendar.next_elapses(
        ["*-*-* 12:00:00", "*-02-30 00:00:00"], base=BASE, iterations=2
    )
    assert utc == [datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(2026, 1, 2, 12, tzinfo=UTC)]
    assert never == []
    (zoned,) = systemd_calendar.next_elapses(
        ["*-*-* 12:00:00"], base=BASE, iterations=1, zone="America/New_York"
    )
    assert zoned == [datetime(2026, 1, 1, 17, tzinfo=UTC)]


def test_verify_with_systemd_accepts_translations_and_names_bad_lines() -> None:
    good = [translate(c, z) for c in ("@hourly", "0 9 * * L5") for z in ("UTC", "Europe/London")]
    assert verify_with_systemd(good) == []
    bad = Translation("0 0 * * *", "UTC", ("*-*-* 00:00:00 Foo/Bar",), ())
    assert verify_with_systemd([*good, bad]) == [
        "systemd-analyze cannot parse `OnCalendar=*-*-* 00:00:00 Foo/Bar` "
        "(from `0 0 * * *`): Invalid argument"
    ]


def _user_score(unit: Path, runtime: Path) -> float:
    """`systemd-analyze --user security --offline=yes` (a user manager's view of a unit)."""
    runtime.mkdir(mode=0o700, exist_ok=True)
    out = subprocess.run(
        ["systemd-analyze", "--user", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        check=True,
    ).stdout
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert found is not None, out
    return float(found.group(1))


def test_user_mode_units_score_as_docs_systemd_md_says(tmp_path: Path) -> None:
    """The user alert service (sandboxed where the kernel permits) at most 2.5 (was 9.1);
    the packages' user supervisor at most 6.5 (was 7.5) and install-daemon's, sandboxed,
    at most 2.5."""
    home = "/home/me"
    options = UnitOptions(
        False,
        (f"{home}/venv/bin/python3", "-m", "sqlsentinel"),
        f"{home}/alerts.yaml",
        writable=(f"{home}/.local/state/sqlsentinel", f"{home}/.cache/sqlsentinel"),
        sandbox=True,
    )
    alert = AlertSpec("a", "SELECT 1", "0 * * * *", DatabaseSpec("sqlite:///x.db"))
    rendered = render_units(alert, ["*-*-* *:00:00 UTC"], options)
    service = tmp_path / f"{rendered.base}.service"
    service.write_text(rendered.files[service.name])
    shipped_unit = tmp_path / "shipped" / "sqlsentinel.service"
    shipped_unit.parent.mkdir()
    shipped_unit.write_text(render_daemon_unit(shipped(False)).replace("/usr/bin/", "/bin/"))
    generated = tmp_path / "sqlsentinel.service"
    folders = ("/run/user/1000/systemd/user", f"{home}/.local/state/sqlsentinel")
    daemon = replace(
        for_program(False, options.command, options.config_path, None, None, folders),
        sandbox=True,
    )
    generated.write_text(render_daemon_unit(daemon))
    runtime = tmp_path / "runtime"
    assert _user_score(service, runtime) <= 2.5
    assert _user_score(shipped_unit, runtime) <= 6.5
    assert _user_score(generated, runtime) <= 2.5


def test_the_user_sandbox_follows_what_the_kernel_permits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sysctls(**values: int) -> Path:
        root = tmp_path / "-".join(f"{k}{v}" for k, v in values.items())
        for name, value in values.items():
            path = root / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{value}\n")
        return root

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert user_sandbox_allowed(sysctls(user__max_user_namespaces=100))
    assert not user_sandbox_allowed(sysctls(user__max_user_namespaces=0))
    assert not user_sandbox_allowed(sysctls(kernel__unprivileged_userns_clone=0))
    assert not user_sandbox_allowed(sysctls(kernel__apparmor_restrict_unprivileged_userns=1))
    assert user_sandbox_allowed(sysctls(kernel__apparmor_restrict_unprivileged_userns=0))
