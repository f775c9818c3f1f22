"""The broken-config corpus: every file in broken/ must fail with exactly its expected lines.

Each `broken/NN-name.yaml` starts with one `# expect: <line>` comment per line that
`sqlsentinel validate` must print on stderr, in order. The command runs as a real
subprocess so the test also proves that no traceback ever reaches the user. A `…` in an
expected line stands for the YAML parser's own description of a syntax error (its wording
is PyYAML's / libyaml's, not ours); the file, line and our hint around it are exact.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BROKEN = Path(__file__).parent / "broken"
ROOT = Path(__file__).resolve().parents[2]
CASES = sorted(BROKEN.glob("*.yaml"))
EXPECT = "# expect: "

# `run` goes through the compiled cache and the run command; a handful is enough.
RUN_CASES = [
    "02-unclosed-bracket.yaml",
    "09-unknown-alert-key.yaml",
    "26-cron-minute-61.yaml",
    "38-env-malformed.yaml",
    "45-many-problems.yaml",
]


def expected_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.removeprefix(EXPECT) for line in lines if line.startswith(EXPECT)]


def pattern(expected: str) -> re.Pattern[str]:
    """`expected` as a pattern: exact, except that `…` matches the parser's own words."""
    return re.compile(".+?".join(map(re.escape, expected.split("…"))))


def sentinel(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "SQLSENTINEL_CACHE_DIR": str(home / "cache"),
        "XDG_STATE_HOME": str(home / "state"),
        "STATE_DIRECTORY": str(home / "state"),  # root's default is the machine's folder
    }
    return subprocess.run(
        [sys.executable, "-m", "sqlsentinel", *args],
        cwd=BROKEN,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 34
    for path in CASES:
        assert re.fullmatch(r"\d\d-[a-z0-9-]+\.yaml", path.name), path.name
        expected = expected_lines(path)
        assert expected, f"{path.name} has no '# expect:' line"
        for line in expected:
            # every message names the file and a line
            assert re.match(rf"error: {re.escape(path.name)}:\d+: ", line), line
        numbers = [int(line.split(":")[2]) for line in expected]
        assert numbers == sorted(numbers), f"{path.name}: problems must be in line order"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_validate_reports_exactly(path: Path, tmp_path: Path) -> None:
    result = sentinel("validate", path.name, home=tmp_path)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.returncode == 3, output
    actual, expected = result.stderr.splitlines(), expected_lines(path)
    assert len(actual) == len(expected), result.stderr
    for line, want in zip(actual, expected, strict=True):
        assert pattern(want).fullmatch(line), (line, want)
    assert result.stdout == ""


@pytest.mark.parametrize("name", RUN_CASES)
def test_run_refuses_broken_config(name: str, tmp_path: Path) -> None:
    result = sentinel("run", name, home=tmp_path)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.returncode == 3, output
    for line in expected_lines(BROKEN / name):
        assert pattern(line.removeprefix("error: ")).search(result.stderr), result.stderr
    # nothing was cached for a config that does not validate
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(p.name == "settings.json" for p in cache.rglob("*"))


def test_missing_file(tmp_path: Path) -> None:
    result = sentinel("validate", "no-such-file.yaml", home=tmp_path)
    assert result.returncode == 3
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip() == "error: no-such-file.yaml: config file not found"


def test_not_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"database:\n  url: sqlite:///x.db\n# caf\xe9\n")
    result = sentinel("validate", str(bad), home=tmp_path)
    assert result.returncode == 3
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {bad}: config file is not UTF-8")


def test_traceback_free_under_debug_off() -> None:
    # the corpus runs without SQLSENTINEL_DEBUG; make sure the test env does not leak it
    assert "SQLSENTINEL_DEBUG" not in os.environ or not os.environ["SQLSENTINEL_DEBUG"]
