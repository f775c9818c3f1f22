"""packaging/build.sh: what the .deb and the .rpm contain, lintian, and an rpm install."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from booted_debian import overlay
from package_build import REPO, VERSION, Packages

SITE = "opt/sqlsentinel/lib/python3.11/site-packages"


def _out(*argv: str | Path) -> str:
    done = subprocess.run(list(map(str, argv)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
    return done.stdout


def _deb_listing(deb: Path) -> dict[str, str]:
    """path -> the `dpkg-deb -c` line (mode, owner, size, link target)."""
    rows = {}
    for line in _out("dpkg-deb", "-c", deb).splitlines():
        path = line.split(None, 5)[5].split(" -> ")[0]
        rows[path.removeprefix("./").rstrip("/")] = line
    return rows


def test_deb_is_named_and_versioned_as_documented(packages: Packages) -> None:
    assert packages.deb.name == f"sqlsentinel_{VERSION}_amd64.deb"
    fields = _out("dpkg-deb", "-f", packages.deb, "Package", "Version", "Architecture", "Depends")
    assert fields.splitlines() == [
        "Package: sqlsentinel",
        f"Version: {VERSION}",
        "Architecture: amd64",
        "Depends: python3.11, systemd, libc6 (>= 2.28)",
    ]


def test_deb_holds_a_venv_on_the_distribution_python(packages: Packages) -> None:
    rows = _deb_listing(packages.deb)
    assert rows["opt/sqlsentinel/bin/python3.11"].endswith("-> /usr/bin/python3.11")
    assert rows["usr/bin/sqlsentinel"].endswith("-> /opt/sqlsentinel/bin/sqlsentinel")
    assert f"{SITE}/sqlsentinel/cli/__pycache__/__init__.cpython-311.pyc" in rows
    assert not [p for p in rows if re.search(r"site-packages/(pip|setuptools)/", p)]
    assert not [p for p in rows if p.endswith("direct_url.json")]


def test_deb_files_name_no_build_folder(packages: Packages, tmp_path: Path) -> None:
    _out("dpkg-deb", "-x", packages.deb, tmp_path)
    venv = tmp_path / "opt/sqlsentinel"
    assert (venv / "pyvenv.cfg").read_text().splitlines()[:1] == ["home = /usr/bin"]
    assert (venv / "bin/sqlsentinel").read_text().startswith("#!/opt/sqlsentinel/bin/python3.11\n")
    found = subprocess.run(["grep", "-rIl", "/sqs-pkg-", str(venv)], capture_output=True)
    assert found.stdout == b""


def test_deb_config_files_are_conffiles_and_the_env_file_is_private(packages: Packages) -> None:
    rows = _deb_listing(packages.deb)
    assert rows["etc/sqlsentinel/sqlsentinel.env"].startswith("-rw------- root/root")
    assert rows["etc/sqlsentinel/alerts.yaml"].startswith("-rw-r--r-- root/root")
    assert rows["etc/sqlsentinel"].startswith("drwxr-xr-x root/root")
    conffiles = _out("dpkg-deb", "--info", packages.deb, "conffiles").split()
    assert sorted(conffiles) == ["/etc/sqlsentinel/alerts.yaml", "/etc/sqlsentinel/sqlsentinel.env"]
    for path in ("usr/lib/sysusers.d/sqlsentinel.conf", "usr/lib/tmpfiles.d/sqlsentinel.conf",
                 "usr/share/sqlsentinel/example.db"):  # fmt: skip
        assert path in rows


def test_deb_ships_the_daemon_units(packages: Packages) -> None:
    rows = _deb_listing(packages.deb)
    assert "lib/systemd/system/sqlsentinel.service" in rows
    assert "usr/lib/systemd/user/sqlsentinel.service" in rows


def test_lintian_reports_no_errors_and_only_the_kept_warning(packages: Packages) -> None:
    done = subprocess.run(
        ["lintian", "--no-tag-display-limit", str(packages.deb)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    tags = [line for line in done.stdout.splitlines() if re.match(r"[EW]: ", line)]
    # kept: the command's manual is docs/cli.md and `sqlsentinel --help` (docs/install.md)
    assert tags == ["W: sqlsentinel: no-manual-page [usr/bin/sqlsentinel]"], done.stdout


def test_rpm_lists_files_requirements_and_scriptlets(packages: Packages) -> None:
    assert packages.rpm.name == f"sqlsentinel-{VERSION}-1.x86_64.rpm"
    files = _out("rpm", "-qpl", packages.rpm).splitlines()
    for path in ("/usr/bin/sqlsentinel", "/opt/sqlsentinel/bin/python3.11",
                 "/usr/lib/sysusers.d/sqlsentinel.conf", "/usr/lib/tmpfiles.d/sqlsentinel.conf",
                 "/usr/lib/systemd/system-preset/50-sqlsentinel.preset"):  # fmt: skip
        assert path in files
    assert not [f for f in files if f.startswith("/lib/")]
    configs = _out("rpm", "-qpc", packages.rpm).split()
    assert configs == ["/etc/sqlsentinel/alerts.yaml", "/etc/sqlsentinel/sqlsentinel.env"]
    requires = _out("rpm", "-qpR", packages.rpm).splitlines()
    assert {"python3.11", "systemd", "glibc >= 2.28"} <= set(requires)
    scripts = _out("rpm", "-qp", "--scripts", packages.rpm)
    assert "systemctl --no-reload preset sqlsentinel.service" in scripts
    assert "systemctl --no-reload disable --now sqlsentinel.service" in scripts
    assert "systemctl try-restart sqlsentinel.service" in scripts


def test_rpm_ships_the_daemon_units(packages: Packages) -> None:
    files = _out("rpm", "-qpl", packages.rpm).splitlines()
    assert "/usr/lib/systemd/system/sqlsentinel.service" in files
    assert "/usr/lib/systemd/user/sqlsentinel.service" in files


def test_rpm_installs_with_its_scriptlets_and_verifies(
    packages: Packages, systemd_rootfs: Path, tmp_path: Path
) -> None:
    with overlay(systemd_rootfs, tmp_path) as root:
        _out("rpm", "--root", root, "--initdb")
        _out("rpm", "-i", "--root", root, "--nodeps", packages.rpm)  # scriptlets run chrooted
        assert _out("rpm", "-V", "--nodeps", "--root", root, "sqlsentinel") == ""
        assert "sqlsentinel:x:" in (root / "etc/passwd").read_text()
        state = (root / "var/lib/sqlsentinel").stat()
        assert (stat.S_IMODE(state.st_mode), state.st_uid > 0) == (0o750, True)
        env_file = root / "etc/sqlsentinel/sqlsentinel.env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        _out("rpm", "-e", "--root", root, "--nodeps", "sqlsentinel")
        assert not (root / "opt/sqlsentinel").exists()
        assert not os.path.lexists(root / "usr/bin/sqlsentinel")


def test_rpm_preset_enables_the_daemon_and_erase_disables_it(
    packages: Packages, systemd_rootfs: Path, tmp_path: Path
) -> None:
    wants = "etc/systemd/system/multi-user.target.wants/sqlsentinel.service"
    with overlay(systemd_rootfs, tmp_path) as root:
        _out("rpm", "--root", root, "--initdb")
        _out("rpm", "-i", "--root", root, "--nodeps", packages.rpm)
        assert (root / wants).is_symlink(), "the preset did not enable sqlsentinel.service"
        _out("rpm", "-e", "--root", root, "--nodeps", "sqlsentinel")
        assert not os.path.lexists(root / wants)


METRICS_UNITS = ("sqlsentinel-metrics.service", "sqlsentinel-metrics.timer")
TEXTFILE = "/var/lib/prometheus/node-exporter/sqlsentinel.prom"  # Debian's textfile folder


def test_both_packages_ship_the_metrics_timer_for_debian_s_node_exporter(
    packages: Packages,
) -> None:
    """Issue 17.15: the textfile is written where Debian's node_exporter reads it."""
    rows = _deb_listing(packages.deb)
    files = _out("rpm", "-qpl", packages.rpm).splitlines()
    for unit in METRICS_UNITS:
        assert f"lib/systemd/system/{unit}" in rows
        assert f"/usr/lib/systemd/system/{unit}" in files
    service = (REPO / "systemd" / METRICS_UNITS[0]).read_text()
    assert f"--textfile {TEXTFILE}" in service
    assert "ConditionPathIsDirectory=/var/lib/prometheus/node-exporter" in service
    deb_scripts = _out("dpkg-deb", "--info", packages.deb, "postinst")
    assert "deb-systemd-helper enable sqlsentinel-metrics.timer" in deb_scripts
    assert TEXTFILE in _out("dpkg-deb", "--info", packages.deb, "prerm")
    rpm_scripts = _out("rpm", "-qp", "--scripts", packages.rpm)
    assert "disable --now sqlsentinel-metrics.timer" in rpm_scripts and TEXTFILE in rpm_scripts


def test_rpm_preset_enables_the_metrics_timer(
    packages: Packages, systemd_rootfs: Path, tmp_path: Path
) -> None:
    wants = "etc/systemd/system/timers.target.wants/sqlsentinel-metrics.timer"
    with overlay(systemd_rootfs, tmp_path) as root:
        _out("rpm", "--root", root, "--initdb")
        _out("rpm", "-i", "--root", root, "--nodeps", packages.rpm)
        assert (root / wants).is_symlink(), "the preset did not enable sqlsentinel-metrics.timer"
        _out("rpm", "-e", "--root", root, "--nodeps", "sqlsentinel")
        assert not os.path.lexists(root / wants)
