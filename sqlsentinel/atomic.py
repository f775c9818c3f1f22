"""Atomic file writes: a reader sees the old content or the new one, never half of it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def atomic_write(
    path: Path, data: bytes, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    atomic_write_many(path.parent, {path.name: data}, mode, owner=owner)


def atomic_write_many(
    folder: Path,
    files: Mapping[str, bytes],
    mode: int = 0o600,
    *,
    sync: bool = False,
    owner: tuple[int, int] | None = None,
) -> None:
    """Write several files of `folder` atomically: all temps, (one sync,) then the renames.

    With `sync`, one `sync()` for all files makes them durable before any rename; that
    costs far less than an fsync each (1,000 unit files: seconds). `owner` (uid, gid)
    is given to each file before it appears. On failure the temporary files are
    removed and the OSError propagates.
    """
    temps: dict[str, str] = {}
    try:
        for name, data in files.items():
            fd, temps[name] = _mkstemp(folder, f".{name}.")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(temps[name], mode)
            if owner is not None:
                os.chown(temps[name], *owner)
        if sync:
            os.sync()
        for name, tmp in temps.items():
            os.replace(tmp, folder / name)
    except OSError:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
        raise


def folder_owner(folder: Path) -> tuple[int, int] | None:
    """The (uid, gid) that root should give new files in `folder`: its owner's, when that
    is someone else (a service user's state directory); None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        st = folder.stat()
    except OSError:
        return None
    return None if st.st_uid == 0 else (st.st_uid, st.st_gid)


def _mkstemp(folder: Path, prefix: str) -> tuple[int, str]:
    import tempfile  # with shutil, random, bz2, lzma: only when something is written

    return tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
