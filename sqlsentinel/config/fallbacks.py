"""Values given outside the config file that loading falls back on (the daemon's options)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Fallbacks:
    """`sqlsentinel daemon --timezone`, `--database-url` and `DATABASE_URL`.

    `timezone` applies to alerts that set none; `database_url` is the default alert
    database when the config has no `database:`, and replaces it when
    `database_url_overrides` (`--database-url` given on the command line).
    """

    timezone: str | None = None
    database_url: str | None = None
    database_url_overrides: bool = False

    def to_json(self) -> dict[str, Any]:
        """For the applied snapshot's metadata."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Fallbacks:
        """Inverse of `to_json` (anything else gives no fallbacks)."""
        if not isinstance(data, dict):
            return cls()
        return cls(
            timezone=data.get("timezone"),
            database_url=data.get("database_url"),
            database_url_overrides=bool(data.get("database_url_overrides")),
        )

    def key(self) -> bytes:
        """Bytes that tell these fallbacks apart (for the compiled cache's key)."""
        if self == NO_FALLBACKS:
            return b""
        return json.dumps(self.to_json(), sort_keys=True).encode()


NO_FALLBACKS = Fallbacks()
