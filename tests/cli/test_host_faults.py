"""What the host can do to a command: a full state folder, a state folder that cannot be
created. Each is exit 4 with a message naming the folder, never 70 (a bug), and a run's
result is either kept or stated lost with its values."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import Cli

CONFIG = """\
database:
  url: sqlite:///target.db
alerts:
  - name: orders
    query: SELECT 'ALERT' AS status, 42 AS actual_value
    schedule: "*/5 * * * *"
"""
FULL = """\
set -e
mount -t tmpfs -o size=1m tmpfs "$STATE_DIRECTORY"
"$@" >/dev/null  # the state database is created while there is room
dd if=/dev/zero of="$STATE_DIRECTORY/filler" bs=4k 2>/dev/null || true
exec "$@"
"""


def test_a_full_state_folder_is_exit_4_and_the_result_is_stated(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text(CONFIG)
    (tmp_path / "target.db").touch()
    state = Path(cli.env["STATE_DIRECTORY"])
    state.mkdir()
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", FULL, "sh",
         *cli.argv, "run", "alerts.yaml", "--alert", "orders"],
        cwd=tmp_path, env=cli.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert f"cannot be kept in {state}/spool either (No space left on device)" in done.stderr
    assert "the result of this run is lost" in done.stderr
    assert "outcome=alert actual_value=42" in done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("run", "alerts.yaml"),
        ("install-units", "alerts.yaml", "--user", "--no-reload", "--unit-dir", "units"),
        ("daemon", "alerts.yaml", "--backend", "local", "--no-reload"),
    ],
)
def test_a_state_folder_that_cannot_be_created_is_exit_4(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "alerts.yaml").write_text(CONFIG)
    (tmp_path / "target.db").touch()
    (tmp_path / "file").write_text("")  # where a folder of the state folder's path must be
    done = cli(*command, env={"STATE_DIRECTORY": str(tmp_path / "file" / "state")}, timeout=60)
    assert done.rc == 4, done
    assert f"the folder {tmp_path / 'file'}" in done.stderr
    assert "internal error" not in done.stderr
