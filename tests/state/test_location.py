"""The default state database location is never a shared folder."""

from __future__ import annotations

import os

import pytest

from sqlsentinel.errors import StateDBError
from sqlsentinel.state.location import default_state_url, resolve_state_url


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests run as root; the default for other users is what is checked here."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({"HOME": "/home/ann"}, "sqlite:////home/ann/.local/state/sqlsentinel/state.db"),
        ({"HOME": "/home/ann", "XDG_STATE_HOME": "/s"}, "sqlite:////s/sqlsentinel/state.db"),
        ({"HOME": "/home/ann", "XDG_STATE_HOME": "s"},
         "sqlite:////home/ann/.local/state/sqlsentinel/state.db"),
        ({"STATE_DIRECTORY": "/var/lib/x:/other"}, "sqlite:////var/lib/x/state.db"),
    ],
)  # fmt: skip
def test_default_locations(environ: dict[str, str], url: str, not_root: None) -> None:
    assert default_state_url(environ) == url


@pytest.mark.parametrize("environ", [{}, {"HOME": ""}, {"HOME": "rel"}, {"XDG_STATE_HOME": "s"}])
def test_no_home_is_a_clear_error_not_tmp(environ: dict[str, str], not_root: None) -> None:
    with pytest.raises(StateDBError, match="pass --state-db URL"):
        default_state_url(environ)
    assert resolve_state_url("sqlite:////x.db", None, environ) == "sqlite:////x.db"


def test_root_uses_var_lib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_state_url({}) == "sqlite:////var/lib/sqlsentinel/state.db"
