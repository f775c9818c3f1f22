"""How a daemon reload ended: what `reload()` returns and `sqlsentinel reload` reports."""

from __future__ import annotations

from enum import StrEnum


class ReloadResult(StrEnum):
    """The end of one reload."""

    APPLIED = "applied"  # the config validated and runs now
    UNCHANGED = "unchanged"  # the file is what is applied, or what was last rejected
    REJECTED = "rejected"  # it does not validate: nothing changed
    FAILED = "failed"  # it validated, but systemd refused to apply it (retried)
