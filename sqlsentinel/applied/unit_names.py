"""Stable, readable, unique systemd unit names for alerts (no jinja2: the validator uses this)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlsentinel.digest import sha256

PREFIX = "sqlsentinel-"
SLUG_MAX = 48
HASH_LEN = 8


def unit_base(alert_name: str) -> str:
    """The stable unit name stem of an alert, e.g. `sqlsentinel-disk-full-1c2d3e4f`."""
    ascii_name = unicodedata.normalize("NFKD", alert_name).encode("ascii", "ignore").decode()
    slug = "-".join(re.findall(r"[a-z0-9]+", ascii_name.lower()))[:SLUG_MAX].strip("-")
    digest = sha256(alert_name.encode("utf-8"))[:HASH_LEN]
    return f"{PREFIX}{slug}-{digest}" if slug else f"{PREFIX}{digest}"


def check_unit_names(alert_names: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of alert names whose unit names collide (empty when all are distinct)."""
    seen: dict[str, str] = {}
    clashes: list[tuple[str, str]] = []
    for name in alert_names:
        base = unit_base(name)
        if base in seen and seen[base] != name:
            clashes.append((seen[base], name))
        seen.setdefault(base, name)
    return clashes
