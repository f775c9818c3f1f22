"""What one timer tick leaves in the journal of a real user manager: one log line."""

from __future__ import annotations

from pathlib import Path

import pytest
from systemd_harness import UserManager, write_config

from sqlsentinel.applied.unit_names import unit_base

pytestmark = pytest.mark.systemd


def test_one_tick_logs_its_run_finished_line_and_nothing_else(
    units: UserManager, workdir: Path
) -> None:
    config = write_config(
        workdir,
        """
        - name: journal tick
          query: SELECT 'ALERT' AS status, 7 AS actual_value, 5 AS threshold
          schedule: "0 4 * * *"
        """,
    )
    units.sqlsentinel("install-units", "--user", str(config))
    base = unit_base("journal tick")
    units.systemctl("start", base + ".service")  # oneshot: returns when the run exited
    assert units.show(base + ".service", "Result")["Result"] == "success"
    units.in_namespace("journalctl", "--sync")  # journald has read all the run wrote
    journal = units.in_namespace("journalctl", "--no-pager", "-o", "cat", "-t", base).stdout
    lines = journal.splitlines()
    assert len(lines) == 1, journal
    assert lines[0].startswith("sqlsentinel: run finished alert='journal tick' "), journal
    assert "triggered_by=CRON outcome=alert state=ALERT transition=firing" in lines[0]
