"""The per-alert spec cache that keeps `sqlsentinel run` cheap.

A full load validates the whole file; it then writes one small JSON file per
alert, keyed by the config file's bytes, the package version and the values of
the environment variables the config read. A run of one alert reads only its own
file, so its cost does not grow with the number of alerts.

What a run executes comes from here, so nothing here is taken on trust: the cache
lives only in a private folder (never a shared one such as /tmp: with no usable
location there is no cache and every run loads the file), a folder or file that is
not the current user's or that others may write, or one that others could swap (a folder
on its way that is not ours or root's), or a link, is ignored, and every file carries
a MAC (keyed BLAKE2b, `sqlsentinel.digest`: no OpenSSL on a tick) under a per-user key
(`key`, mode 0600) over its content, its name and its entry's name, so a planted or
moved file is never taken for ours. Anything that does not check out means a full load,
never an error.

Many alerts on one schedule start together, all with a cold cache after an edit: one
of them fills it (`filling`, a lock on the entry) while the others wait, then read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlsentinel import __version__
from sqlsentinel.core.spec import (
    AlertSpec,
    Settings,
    alert_from_json,
    alert_to_json,
    settings_from_json,
    settings_to_json,
)
from sqlsentinel.digest import digest, mac, same
from sqlsentinel.safedir import only_ours

FORMAT = b"spec-cache-2"
log = logging.getLogger("sqlsentinel.config")
Hit = tuple[Settings, list[AlertSpec], dict[str, str]]
"""Settings, the named alerts that can run, and why the others cannot (by name)."""


def cache_root(environ: Mapping[str, str]) -> Path | None:
    """Where the spec cache lives: $SQLSENTINEL_CACHE_DIR, systemd's $CACHE_DIRECTORY, or
    XDG's cache folder of the user's home; None (no cache) when none is set."""
    if environ.get("SQLSENTINEL_CACHE_DIR"):
        return Path(environ["SQLSENTINEL_CACHE_DIR"])
    if environ.get("CACHE_DIRECTORY"):
        return Path(environ["CACHE_DIRECTORY"].split(":")[0]) / "compiled"
    xdg, home = environ.get("XDG_CACHE_HOME", ""), environ.get("HOME", "")
    if xdg.startswith("/"):  # the XDG spec: a relative value is ignored
        return Path(xdg) / "sqlsentinel"
    return Path(home) / ".cache" / "sqlsentinel" if home.startswith("/") else None


def trusted(path: Path, *, folder: bool) -> bool:
    """`path` is the current user's folder (or regular file, not a link) and no one else may
    write it."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    kind = stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode)
    return kind and st.st_uid == os.geteuid() and not st.st_mode & 0o022


class SpecCache:
    """Read and write the validated specs of one config file."""

    def __init__(self, config_path: str, data: bytes, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.root = cache_root(environ)
        if self.root is not None and not only_ours(self.root):
            log.warning("ignoring the spec cache %s: others may change its folders", self.root)
            self.root = None
        real = os.path.realpath(config_path).encode()
        self.group = (self.root or Path()) / digest(real)[:20]
        self.key = digest(FORMAT, __version__.encode(), real, data)[:40]

    def read(self, names: Sequence[str]) -> Hit | None:
        """Settings and the named alerts, or None when the cache cannot answer."""
        secret = self._secret()
        entry = self._entry(secret) if secret else None
        if secret is None or entry is None or not trusted(entry / "alerts", folder=True):
            return None
        settings_data = _load(entry, "settings.json", secret)
        if settings_data is None:
            return None
        try:
            settings, alerts, broken = settings_from_json(settings_data), [], {}
            for name in names:
                if name not in settings.alert_names:
                    return None
                found = _load(entry, f"alerts/{digest(name.encode())[:32]}.json", secret)
                if found is None:
                    return None
                if "broken" in found:
                    broken[name] = str(found["broken"])
                else:
                    alerts.append(alert_from_json(found["spec"]))
        except (ValueError, KeyError, TypeError):
            return None
        return settings, alerts, broken

    @contextlib.contextmanager
    def filling(self) -> Iterator[None]:
        """Hold this entry's fill lock while validating and writing it, so that a burst of
        runs missing the cache does one full load, not one each (without a usable cache
        folder, no lock: every run loads)."""
        import fcntl

        fd = None
        with contextlib.suppress(OSError):
            if self._private_folders():
                lock = self.group / f"{self.key}.lock"
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    def _private_folders(self) -> bool:
        """Create the cache folders if need be; True when both are private to this user."""
        if self.root is None:
            return False
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.group.mkdir(exist_ok=True, mode=0o700)
        return trusted(self.root, folder=True) and trusted(self.group, folder=True)

    def _secret(self) -> bytes | None:
        """The per-user key, if the cache folders are trusted."""
        if self.root is None or not trusted(self.root, folder=True):
            if self.root is not None and self.root.exists():
                log.warning("ignoring the spec cache %s: not private to this user", self.root)
            return None
        key_file = self.root / "key"
        if not trusted(self.group, folder=True) or not trusted(key_file, folder=False):
            return None
        with contextlib.suppress(OSError):
            if not os.stat(key_file).st_mode & 0o077:
                return key_file.read_bytes()
        return None

    def _entry(self, secret: bytes) -> Path | None:
        """This config's entry for the current values of the variables it read."""
        names = _load(self.group, f"{self.key}.vars", secret, context="")
        if not isinstance(names, list):
            return None
        entry = self._entry_name(secret, map(str, names))
        return entry if trusted(entry, folder=True) else None

    def _entry_name(self, secret: bytes, names: Iterable[str]) -> Path:
        values = json.dumps({n: self.environ.get(n) for n in sorted(names)}).encode()
        return self.group / f"{self.key}-{mac(secret, values, size=16)}"

    def write(
        self,
        settings: Settings,
        alerts: Sequence[AlertSpec],
        env_used: set[str],
        broken: Mapping[str, str] | None = None,
    ) -> None:
        """Store a freshly validated config; silently does nothing where it cannot write."""
        with contextlib.suppress(OSError):
            self._write(settings, alerts, env_used, broken or {})

    def _write(
        self,
        settings: Settings,
        alerts: Sequence[AlertSpec],
        env_used: set[str],
        broken: Mapping[str, str],
    ) -> None:
        import shutil
        import tempfile

        if self.root is None or not self._private_folders():
            return
        os.chmod(self.root, 0o700)
        secret = self._secret() or _new_key(self.root / "key")
        _store(self.group / f"{self.key}.vars", sorted(env_used), secret, context="")
        entry = self._entry_name(secret, env_used)
        tmp = Path(tempfile.mkdtemp(dir=self.group, prefix=".tmp-"))
        (tmp / "alerts").mkdir(mode=0o700)
        for a in alerts:
            _store(tmp / f"alerts/{digest(a.name.encode())[:32]}.json",
                   {"spec": alert_to_json(a)}, secret, entry.name)  # fmt: skip
        for name, why in broken.items():
            _store(tmp / f"alerts/{digest(name.encode())[:32]}.json", {"broken": why},
                   secret, entry.name)  # fmt: skip
        _store(tmp / "settings.json", settings_to_json(settings), secret, entry.name)
        shutil.rmtree(entry, ignore_errors=True)  # one that failed to check out
        try:
            tmp.rename(entry)
        except OSError:  # another process won the race with identical content
            shutil.rmtree(tmp, ignore_errors=True)
            return
        for old in self.group.iterdir():  # entries of older versions of this file
            if old.is_dir() and old != entry and not old.name.startswith(".tmp-"):
                shutil.rmtree(old, ignore_errors=True)
            elif old.suffix in (".vars", ".lock") and old.stem != self.key:
                old.unlink(missing_ok=True)


def _mac(secret: bytes, context: str, name: str, body: bytes) -> str:
    return mac(secret, f"{context}/{name}\n".encode() + body)


def _store(path: Path, value: Any, secret: bytes, context: str) -> None:
    """Write `value` as JSON after its MAC line; private (0600)."""
    from sqlsentinel.atomic import atomic_write  # writers only: a warm tick reads

    body = json.dumps(value).encode()
    name = f"{path.parent.name}/{path.name}" if path.parent.name == "alerts" else path.name
    atomic_write(path, _mac(secret, context, name, body).encode() + b"\n" + body)


def _load(folder: Path, name: str, secret: bytes, context: str | None = None) -> Any:
    """The JSON value of `folder/name` if the file is trusted and its MAC checks out."""
    path = folder / name
    if not trusted(path, folder=False):
        return None
    try:
        tag, _, body = path.read_bytes().partition(b"\n")
        expected = _mac(secret, folder.name if context is None else context, name, body)
        return json.loads(body) if same(tag.decode(), expected) else None
    except (OSError, ValueError):
        return None


def _new_key(path: Path) -> bytes:
    """Create the per-user key; when another process was first, use its key."""
    import secrets

    from sqlsentinel.atomic import atomic_write

    tmp = path.with_name(f".key-{os.getpid()}")
    atomic_write(tmp, secrets.token_bytes(32))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()
