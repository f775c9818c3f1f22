"""The applied copy: what units run is the last config that validated, never the file as
it is on disk; a rejected edit is recorded and shown by `status`."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from support import Cli

from sqlsentinel.applied.store import AppliedStore
from sqlsentinel.config.fallbacks import NO_FALLBACKS
from sqlsentinel.errors import Problem

GOOD = """\
database:
  url: sqlite:///target.db
state_db: state.db
alerts:
  - name: flag
    query: SELECT status FROM flag
    schedule: "*/5 * * * *"
"""
BROKEN = GOOD.replace('"*/5 * * * *"', '"*/5 * * *"')


def _setup(tmp_path: Path) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir()
    with sqlite3.connect(folder / "target.db") as db:
        db.execute("CREATE TABLE flag (status TEXT)")
        db.execute("INSERT INTO flag VALUES ('ALERT')")
    config = folder / "alerts.yaml"
    config.write_text(GOOD)
    return config


def _store(cli: Cli, config: Path) -> AppliedStore:
    return AppliedStore.for_config(str(config), Path(cli.env["STATE_DIRECTORY"]))


def test_units_run_the_applied_copy_and_a_broken_edit_changes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    config = _setup(tmp_path)
    units = tmp_path / "units"
    installed = cli("install-units", "--user", "--no-reload", "--unit-dir", units, config)
    assert installed.rc == 0, installed.stderr
    store = _store(cli, config)
    (service,) = units.glob("*.service")
    assert f'"run" "{config}" "--applied" "{store.folder}" "--alert" "flag"' in service.read_text()
    assert store.folder.stat().st_mode & 0o777 == 0o700
    assert stat.S_IMODE((store.folder / "config.yaml").stat().st_mode) == 0o600
    before = (store.folder / "config.yaml").read_bytes(), service.read_text()

    config.write_text(BROKEN)
    broken = cli("install-units", "--user", "--no-reload", "--unit-dir", units, config)
    assert broken.rc == 3 and "alerts.yaml:7: alerts[0].schedule" in broken.stderr
    assert ((store.folder / "config.yaml").read_bytes(), service.read_text()) == before
    meta = store.meta()
    assert meta is not None and meta.rejected is not None
    assert meta.rejected.error.startswith(
        "alerts.yaml:7: alerts[0].schedule (alert 'flag'): only 4"
    )

    # the service's command still runs the applied copy; the file itself no longer loads
    applied = cli("run", config, "--applied", store.folder, "--alert", "flag", "--json")
    assert applied.rc == 0, applied.stderr
    assert json.loads(applied.stdout)[0]["outcome"] == "alert"
    assert cli("run", config, "--alert", "flag").rc == 3
    status = cli("status", config)
    assert "the file on disk is invalid since" in status.stderr
    assert "alerts.yaml:7: alerts[0].schedule" in status.stderr

    config.write_text(GOOD.replace("*/5", "*/10"))
    assert cli("install-units", "--user", "--no-reload", "--unit-dir", units, config).rc == 0
    assert b"*/10" in (store.folder / "config.yaml").read_bytes()
    assert "the file on disk is the applied config" in cli("status", config).stderr


def test_the_copy_names_config_and_anchors_relative_paths_at_its_folder(
    cli: Cli, tmp_path: Path
) -> None:
    config = _setup(tmp_path)
    store = _store(cli, config)
    store.save(config.read_bytes(), str(config), NO_FALLBACKS, datetime.now(UTC))
    config.write_text("garbage: [")  # the file on disk no longer matters
    cli.cwd = tmp_path  # not the config's folder: target.db must still be cfg/target.db
    ran = cli("run", config, "--applied", store.folder, "--alert", "flag", "--json")
    assert ran.rc == 0 and json.loads(ran.stdout)[0]["outcome"] == "alert", ran.stderr
    assert (config.parent / "state.db").exists()
    unknown = cli("run", config, "--applied", store.folder, "--alert", "nope")
    assert unknown.rc == 2 and f"no alert named 'nope' in {config}" in unknown.stderr
    missing = cli("run", config, "--applied", tmp_path / "nowhere", "--alert", "flag")
    assert missing.rc == 3 and "no applied copy in" in missing.stderr
    assert missing.stderr.startswith(f"error: {config}: ")


def test_rejections_keep_their_first_time_until_an_edit_applies(tmp_path: Path) -> None:
    store = AppliedStore(tmp_path / "state" / "applied" / "k")
    t1, t2 = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)
    p = [
        Problem("/etc/x/alerts.yaml", 3, "alerts", "bad"),
        Problem("/etc/x/alerts.yaml", 9, "", "worse"),
    ]
    store.reject(b"one", "/etc/x/alerts.yaml", p, t1)
    store.reject(b"two", "/etc/x/alerts.yaml", p[1:], t2)
    meta = store.meta()
    assert meta is not None and meta.sha256 is None and meta.rejected is not None
    assert (meta.rejected.since, meta.rejected.error, meta.rejected.count) == (
        t1,
        "alerts.yaml:9: worse",
        1,
    )
    assert "invalid since 2026-01-01 10:00 UTC: alerts.yaml:9: worse" in meta.describe(b"two")
    assert meta.describe(b"three") == "the file on disk was edited and is not applied yet"
    store.save(b"three", "/etc/x/alerts.yaml", NO_FALLBACKS, t2)
    meta = store.meta()
    assert meta is not None and meta.rejected is None and meta.applied_at == t2
    assert meta.describe(b"three") == "the file on disk is the applied config"
