"""Reading a config file: only a regular file of bounded size, and always quickly (exit 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import Cli

from sqlsentinel.config.read import MAX_CONFIG_BYTES, read_config
from sqlsentinel.errors import ConfigError


def _message(path: str) -> str:
    with pytest.raises(ConfigError) as info:
        read_config(path)
    (problem,) = info.value.problems
    return str(problem)


def test_non_regular_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "alerts.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    assert _message(str(fifo)) == f"{fifo}: is a named pipe (FIFO), not a config file"
    assert _message("/dev/zero") == "/dev/zero: is a character device, not a config file"
    assert _message(str(tmp_path)) == f"{tmp_path}: is a directory, not a config file"


def test_size_is_capped(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    assert _message(str(big)).endswith("config file is larger than 4 MiB")
    big.write_bytes(b"#" * MAX_CONFIG_BYTES)
    assert len(read_config(str(big))) == MAX_CONFIG_BYTES


def test_unopenable_paths_are_config_errors(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    assert (
        _message(str(loop)) == f"{loop}: cannot read config file: Too many levels of symbolic links"
    )
    (tmp_path / "file").write_text("x")
    assert _message(str(tmp_path / "file" / "a.yaml")).endswith(
        "cannot read config file: Not a directory"
    )
    assert _message(str(tmp_path / "none.yaml")).endswith("config file not found")


def test_an_unreadable_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests run as root, who may read anything: the refusal of open() is simulated."""
    path = tmp_path / "secret.yaml"
    path.write_text("alerts: []\n")

    def refuse(*_args: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    assert _message(str(path)) == f"{path}: cannot read config file: Permission denied"


@pytest.mark.parametrize("command", ["validate", "run", "schedule", "status", "healthcheck"])
def test_every_command_exits_3_with_a_message(cli: Cli, tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path, Path("/dev/zero")):
        result = cli(command, path, timeout=30)
        expected = 6 if command == "healthcheck" else 3
        assert result.rc == expected, (command, path, result.stderr, result.stdout)
        assert "not a config file" in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
