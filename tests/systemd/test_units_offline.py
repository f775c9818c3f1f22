"""Unit naming, escaping and rendering, checked with `systemd-analyze` (no manager needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from support import cli_env, render_units
from systemd_harness import write_config

from sqlsentinel.applied import unit_names
from sqlsentinel.applied.unit_names import check_unit_names, unit_base
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.daemon_unit import for_program, render_daemon_unit
from sqlsentinel.systemd.units import UnitOptions, one_line_text, quote_arg

NASTY = "x\" ; $HOME ${PATH} %h %n \\ 'q' ; ExecStartPre=/bin/false ☃ 漢字"
OPTIONS = UnitOptions(True, ("/usr/bin/python3", "-m", "sqlsentinel"), "/etc/sqlsentinel/a.yaml")


def _alert(name: str, **kw: object) -> AlertSpec:
    return AlertSpec(name, "SELECT 1", "* * * * *", DatabaseSpec("sqlite:///x.db"), **kw)  # type: ignore[arg-type]


def _write(tmp_path: Path, alert: AlertSpec, options: UnitOptions = OPTIONS) -> list[str]:
    rendered = render_units(alert, ["*-*-* *:*:00 UTC", "Mon *-*-* 09:00:00 Europe/Paris"], options)
    for name, text in rendered.files.items():
        (tmp_path / name).write_text(text)
    return [str(tmp_path / n) for n in rendered.files]


def test_unit_names_are_stable_readable_unique_and_short() -> None:
    assert unit_base("Disk full!") == unit_base("Disk full!")
    assert re.fullmatch(r"sqlsentinel-disk-full-[0-9a-f]{8}", unit_base("Disk full!"))
    assert unit_base("Disk full!") != unit_base("disk-full")
    assert re.fullmatch(r"sqlsentinel-[0-9a-f]{8}", unit_base("警报"))
    assert unit_base("Évènement").startswith("sqlsentinel-evenement-")
    assert len(unit_base("x" * 5000) + ".service") < 100
    assert check_unit_names(["a", "A", "a b", "警报", "警告"]) == []


def test_unit_name_collisions_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unit_names, "HASH_LEN", 0)  # slug only: "Disk full" and "disk-full" clash
    assert check_unit_names(["Disk full", "other", "disk-full", "Disk full"]) == [
        ("Disk full", "disk-full")
    ]


def test_exec_words_and_descriptions_are_escaped() -> None:
    assert quote_arg('a"b\\c %h $X') == '"a\\"b\\\\c %%h $$X"'
    assert one_line_text("a\nExecStart=/x\t%h \\") == "a ExecStart=/x %%h"
    with pytest.raises(SystemdError, match="control characters"):
        quote_arg("a\nb")


@pytest.mark.parametrize("home", [False, True])
def test_system_units_verify_cleanly_and_score_2_or_lower(tmp_path: Path, home: bool) -> None:
    options = OPTIONS
    if home:  # a checkout under /root or /home needs ProtectHome=read-only
        options = UnitOptions(
            True,
            (sys.executable, "-m", "sqlsentinel"),
            "/root/a.yaml",
            "sqlite:////srv/sentinel/state.db",
            "/etc/sqlsentinel/env",
        )
    files = _write(tmp_path, _alert(NASTY, description="d\nExecStartPre=/bin/false %h"), options)
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *files], capture_output=True, text=True
    )
    noise = [
        line
        for line in (verify.stdout + verify.stderr).splitlines()
        if "is not executable" not in line and "/usr/bin/python3" not in line
    ]
    assert noise == []
    service = next(f for f in files if f.endswith(".service"))
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", service],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    score = float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security).group(1))  # type: ignore[union-attr]
    assert score <= 2.0
    text = Path(service).read_text()
    assert ("ProtectHome=read-only" in text) is home
    assert ("ReadWritePaths=-/srv/sentinel" in text) is home


def test_user_units_hold_only_user_manager_settings(tmp_path: Path) -> None:
    """A user manager sandboxes through PrivateUsers=: no users, state or cache folders of
    its own (StateDirectory= would be ~/.config on systemd 252), the runs' folders writable."""
    options = UnitOptions(
        False, ("/usr/bin/sqlsentinel",), "/home/me/a.yaml", writable=("/home/me/.cache/s",)
    )
    sandboxed = replace(options, sandbox=True)
    for given in (options, sandboxed):
        service = render_units(_alert("a"), ["daily"], given).files
        text = next(t for n, t in service.items() if n.endswith(".service")).splitlines()
        assert not [x for x in text if x.startswith(("DynamicUser", "User=", "StateDirectory"))]
        assert {"Type=oneshot", "NoNewPrivileges=yes"} <= set(text)
        wanted = {"PrivateUsers=yes", "ProtectSystem=strict", "ProtectHome=read-only"}
        wanted.add("ReadWritePaths=-/home/me/.cache/s")
        assert (wanted <= set(text)) is given.sandbox  # only where the kernel permits it
        assert "ProtectKernelTunables=yes" not in text  # 226/NAMESPACE in a user manager


@pytest.mark.parametrize(
    ("program", "config", "private"),
    [
        ("/usr/bin/sqlsentinel", "/etc/sqlsentinel/a.yaml", True),
        ("/home/me/venv/bin/python", "/home/me/a.yaml", True),
        ("/tmp/checkout/.venv/bin/python", "/home/me/a.yaml", False),  # a clone in /tmp
        ("/usr/bin/sqlsentinel", "/var/tmp/a.yaml", False),
        ("/usr/bin/sqlsentinel", "/tmpfiles/a.yaml", True),
    ],
)
def test_no_private_tmp_hides_what_the_services_need(
    program: str, config: str, private: bool
) -> None:
    """PrivateTmp= would hide a program or config in /tmp or /var/tmp (the service failed
    with 203/EXEC): the alert services and the daemon's unit have it only where nothing they
    need is there."""
    for system, sandbox in ((True, False), (False, True)):
        options = UnitOptions(system, (program, "-m", "sqlsentinel"), config, sandbox=sandbox)
        files = render_units(_alert("a"), ["daily"], options).files
        text = next(t for n, t in files.items() if n.endswith(".service")).splitlines()
        assert ("PrivateTmp=yes" in text) is private
        daemon = replace(for_program(system, (program,), config, None, None, ()), sandbox=sandbox)
        assert ("PrivateTmp=yes" in render_daemon_unit(daemon).splitlines()) is private


@pytest.mark.parametrize(
    ("jitter", "lines"),
    [
        (0.0, []),
        (30.0, ["RandomizedDelaySec=30s", "FixedRandomDelay=yes"]),
        (1.5, ["RandomizedDelaySec=1500000us", "FixedRandomDelay=yes"]),
    ],
)
def test_jitter_is_a_fixed_randomized_delay(
    tmp_path: Path, jitter: float, lines: list[str]
) -> None:
    files = render_units(_alert("a", jitter=jitter), ["daily"], OPTIONS).files
    timer = next(t for n, t in files.items() if n.endswith(".timer")).splitlines()
    assert [line for line in timer if "Random" in line] == lines
    assert "AccuracySec=1s" in timer
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Random" not in verify.stderr and "Unknown key" not in verify.stderr


def test_passwords_never_reach_a_unit() -> None:
    options = UnitOptions(False, ("/usr/bin/sqlsentinel",), "/a.yaml", "postgresql://u:pw@h/db")
    with pytest.raises(SystemdError, match="SQLSENTINEL_STATE_DB"):
        render_units(_alert("a"), ["daily"], options)
    bad_env = UnitOptions(False, ("/usr/bin/sqlsentinel",), "/a.yaml", env_file="/etc/my env")
    with pytest.raises(SystemdError, match="absolute path without spaces"):
        render_units(_alert("a"), ["daily"], bad_env)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with this test's own state and cache folders (never the machine's)."""
    return subprocess.run(
        [sys.executable, "-m", "sqlsentinel", *args],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
    )


def test_invalid_config_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, "- name: a\n  query: SELECT 1\n  schedule: '61 * * * *'\n")
    done = _cli(tmp_path, "install-units", str(config), "--user", "--unit-dir", str(tmp_path / "u"))
    assert done.returncode == 3
    assert not (tmp_path / "u").exists()


def test_dry_run_and_no_reload(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "- name: a\n  query: SELECT 1\n  schedule: '0 * * * *'\n"
        "- name: paused\n  query: SELECT 1\n  schedule: '0 * * * *'\n  enabled: false\n",
    )
    unit_dir = tmp_path / "u"
    args = ("install-units", str(config), "--user", "--unit-dir", str(unit_dir), "--json")
    dry = _cli(tmp_path, *args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert '"action": "create"' in dry.stdout and not unit_dir.exists()
    done = _cli(tmp_path, *args, "--no-reload")  # no systemctl at all: works without a manager
    assert done.returncode == 0, done.stderr
    base = unit_base("a")
    assert sorted(p.name for p in unit_dir.iterdir()) == [
        ".sqlsentinel-manifest.json",
        f"{base}.service",
        f"{base}.timer",
        "timers.target.wants",
    ]
    assert (
        unit_dir / "timers.target.wants" / f"{base}.timer"
    ).resolve() == unit_dir / f"{base}.timer"
    assert oct((unit_dir / f"{base}.service").stat().st_mode & 0o777) == "0o644"


def test_files_it_did_not_write_are_never_touched(tmp_path: Path) -> None:
    config = write_config(tmp_path, "- name: a\n  query: SELECT 1\n  schedule: '0 * * * *'\n")
    unit_dir = tmp_path / "u"
    unit_dir.mkdir()
    foreign = unit_dir / f"{unit_base('a')}.timer"
    foreign.write_text("[Timer]\nOnCalendar=daily\n")
    done = _cli(
        tmp_path, "install-units", str(config), "--user", "--unit-dir", str(unit_dir), "--no-reload"
    )
    assert done.returncode == 7
    assert "not written by sqlsentinel" in done.stderr
    assert foreign.read_text() == "[Timer]\nOnCalendar=daily\n"
    assert not (unit_dir / f"{unit_base('a')}.service").exists()


def test_a_broken_alert_keeps_its_units_and_a_new_broken_one_gets_none(tmp_path: Path) -> None:
    """Its environment broke: its timer stays (each run records the error) and exit 3 says so."""
    alert = "- name: {}\n  query: SELECT 1\n  schedule: '0 * * * *'\n  description: {}\n"
    config = write_config(tmp_path, alert.format("a", "fine") + alert.format("b", "fine"))
    unit_dir = tmp_path / "u"
    args = ("install-units", str(config), "--user", "--unit-dir", str(unit_dir), "--no-reload")
    assert _cli(tmp_path, *args).returncode == 0
    before = {p.name: p.read_text() for p in unit_dir.glob("sqlsentinel-*")}
    broken = alert.format("b", "${SQLSENTINEL_TEST_UNSET}") + alert.format(
        "c", "${SQLSENTINEL_TEST_UNSET}"
    )
    config.write_text(
        config.read_text().split("alerts:")[0] + "alerts:\n" + alert.format("a", "ok") + broken
    )
    done = _cli(tmp_path, *args)
    assert done.returncode == 3
    assert "alerts[1].description (alert 'b')" in done.stderr and "(alert 'c')" in done.stderr
    after = {p.name: p.read_text() for p in unit_dir.glob("sqlsentinel-*")}
    for name in (f"{unit_base('b')}.service", f"{unit_base('b')}.timer"):
        assert after[name] == before[name]
    assert not any(n.startswith(unit_base("c")) for n in after)
    assert (unit_dir / "timers.target.wants" / f"{unit_base('b')}.timer").is_symlink()


def _read_write_paths(unit_dir: Path) -> list[str]:
    (service,) = unit_dir.glob("sqlsentinel-*.service")
    return [line for line in service.read_text().splitlines() if line.startswith("ReadWritePaths")]


@pytest.mark.parametrize("given", ["config", "env file", "--state-db", "default"])
def test_system_units_can_write_the_state_db_the_runs_use(tmp_path: Path, given: str) -> None:
    """ReadWritePaths= follows the state DB a run writes: the config's `state_db:`, the env
    file's SQLSENTINEL_STATE_DB, `--state-db` (each winning over the one before), or none
    for the default one in StateDirectory=."""
    config = write_config(tmp_path, "- name: a\n  query: SELECT 1\n  schedule: '0 * * * *'\n")
    if given == "default":
        config.write_text(
            config.read_text().replace(f"state_db: sqlite:///{tmp_path}/state.db\n", "")
        )
    env = tmp_path / "sqlsentinel.env"
    env.write_text("# services\nSQLSENTINEL_STATE_DB='sqlite:////var/tmp/from-env/state.db'\n")
    env.chmod(0o600)
    args = ["install-units", str(config), "--system", "--unit-dir", str(tmp_path / "u")]
    if given in ("env file", "--state-db"):
        args += ["--env-file", str(env)]
    if given == "--state-db":
        args += ["--state-db", "sqlite:////srv/given/state.db"]
    done = _cli(tmp_path, *args, "--no-reload")
    assert done.returncode == 0, done.stderr
    expected = {
        "config": [f"ReadWritePaths=-{tmp_path}"],
        "env file": ["ReadWritePaths=-/var/tmp/from-env"],
        "--state-db": ["ReadWritePaths=-/srv/given"],
        "default": [],
    }[given]
    assert _read_write_paths(tmp_path / "u") == expected
