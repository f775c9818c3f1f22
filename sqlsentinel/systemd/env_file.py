"""Read an `EnvironmentFile=` the way systemd does, for what the services will see.

`KEY=VALUE` lines; `#` and `;` start comments; a value may be wrapped in single or
double quotes; surrounding blanks are dropped. Variable references are not expanded
(systemd does not expand them in environment files either).
"""

from __future__ import annotations

from pathlib import Path


def read_env_file(path: str | None) -> dict[str, str]:
    """The variables `path` sets ({} when None or unreadable: systemd would refuse it too)."""
    if path is None:
        return {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    found: dict[str, str] = {}
    for line in lines:
        text = line.strip()
        if not text or text[0] in "#;" or "=" not in text:
            continue
        key, value = text.split("=", 1)
        key, value = key.removeprefix("export ").strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key] = value
    return found
