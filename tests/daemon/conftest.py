"""The daemon's tests share the real `systemd --user` harness of tests/systemd."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SYSTEMD_TESTS = Path(__file__).resolve().parents[1] / "systemd"
sys.path.insert(0, str(_SYSTEMD_TESTS))  # systemd_harness
_spec = importlib.util.spec_from_file_location("systemd_conftest", _SYSTEMD_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_harness)
user_manager = _harness.user_manager  # the same session fixture: a real user manager
workdir = _harness.workdir  # a folder with an empty target SQLite database
