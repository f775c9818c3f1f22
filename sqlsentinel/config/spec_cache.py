"""The per-alert spec cache (the "compiled cache") that keeps `sqlsentinel run` cheap.

A full load validates the whole file; it then writes one small JSON file per
alert, keyed by the config file's bytes, the package version and the values of
the environment variables the config read. A run of one alert reads only its own
file, so its cost does not grow with the number of alerts. Any mismatch, missing
or unreadable entry simply falls back to a full load. Files are private (0600 in
a 0700 folder): they hold values resolved from the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlsentinel import __version__
from sqlsentinel.atomic import atomic_write
from sqlsentinel.core.spec import (
    AlertSpec,
    Settings,
    alert_from_json,
    alert_to_json,
    settings_from_json,
    settings_to_json,
)
from sqlsentinel.digest import digest, mac


def cache_root(environ: Mapping[str, str]) -> Path:
    """Where compiled configs live: $SQLSENTINEL_CACHE_DIR, systemd's $CACHE_DIRECTORY, or XDG."""
    if environ.get("SQLSENTINEL_CACHE_DIR"):
        return Path(environ["SQLSENTINEL_CACHE_DIR"])
    if environ.get("CACHE_DIRECTORY"):
        return Path(environ["CACHE_DIRECTORY"].split(":")[0]) / "compiled"
    xdg = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME", "/tmp")) / ".cache")
    return Path(xdg) / "sqlsentinel"


class SpecCache:
    """Read and write compiled alerts for one config file."""

    def __init__(self, config_path: str, data: bytes, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.root = cache_root(environ)
        real = os.path.realpath(config_path).encode()
        self.group = self.root / digest(real)[:20]
        self.key = digest(__version__.encode(), real, data)[:40]

    def _entry(self) -> Path | None:
        try:
            names = json.loads((self.group / f"{self.key}.vars").read_text())
            key = (self.root / "key").read_bytes()
        except (OSError, ValueError):
            return None
        values = json.dumps({n: self.environ.get(n) for n in sorted(names)}).encode()
        fingerprint = mac(key, values, size=16)
        return self.group / f"{self.key}-{fingerprint}"

    def read(self, names: Sequence[str]) -> tuple[Settings, list[AlertSpec]] | None:
        """Settings and the named alerts, or None when the cache cannot answer."""
        entry = self._entry()
        if entry is None:
            return None
        try:
            settings = settings_from_json(json.loads((entry / "settings.json").read_text()))
            alerts = []
            for name in names:
                if name not in settings.alert_names:
                    return None
                path = entry / "alerts" / f"{digest(name.encode())[:32]}.json"
                alerts.append(alert_from_json(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return settings, alerts

    def write(self, settings: Settings, alerts: Sequence[AlertSpec], env_used: set[str]) -> None:
        """Store a freshly validated config; silently does nothing where it cannot write."""
        with contextlib.suppress(OSError):
            self._write(settings, alerts, env_used)

    def _write(self, settings: Settings, alerts: Sequence[AlertSpec], env_used: set[str]) -> None:
        import secrets
        import shutil
        import tempfile

        self.group.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        key_file = self.root / "key"
        if not key_file.exists():
            atomic_write(key_file, secrets.token_bytes(32))
        atomic_write(self.group / f"{self.key}.vars", json.dumps(sorted(env_used)).encode())
        entry = self._entry()
        if entry is None or entry.exists():
            return
        tmp = Path(tempfile.mkdtemp(dir=self.group, prefix=".tmp-"))
        (tmp / "alerts").mkdir(mode=0o700)
        for a in alerts:
            name = f"{digest(a.name.encode())[:32]}.json"
            _private_write(tmp / "alerts" / name, json.dumps(alert_to_json(a)))
        _private_write(tmp / "settings.json", json.dumps(settings_to_json(settings)))
        try:
            tmp.rename(entry)
        except OSError:  # another process won the race with identical content
            shutil.rmtree(tmp, ignore_errors=True)
            return
        for old in self.group.iterdir():  # entries of older versions of this file
            if old.is_dir() and old != entry and not old.name.startswith(".tmp-"):
                shutil.rmtree(old, ignore_errors=True)
            elif old.suffix == ".vars" and old.stem != self.key:
                old.unlink(missing_ok=True)


def _private_write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
