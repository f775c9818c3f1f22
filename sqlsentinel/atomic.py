"""Atomic file writes: a reader sees the old content or the new one, never half of it.

Each file is written to a new temporary name (`O_EXCL | O_NOFOLLOW`) relative to its
folder's descriptor, given its mode and owner through its own descriptor, then renamed
over the old name, which replaces a link rather than following it. So a write never
lands anywhere but in that folder, whoever may change the folder meanwhile.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


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
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        write_at(fd, files, mode, sync=sync, owner=owner)
    finally:
        os.close(fd)


def write_at(
    folder_fd: int,
    files: Mapping[str, bytes],
    mode: int = 0o600,
    *,
    sync: bool = False,
    owner: tuple[int, int] | None = None,
) -> None:
    """`atomic_write_many` in the folder open as `folder_fd`."""
    temps: dict[str, str] = {}
    try:
        for name, data in files.items():
            temps[name] = tmp = f".{name}.{os.urandom(4).hex()}.tmp"
            fd = os.open(tmp, _TEMP, 0o600, dir_fd=folder_fd)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(fd, mode)
                if owner is not None:
                    os.fchown(fd, *owner)
        if sync:
            os.sync()
        for name, tmp in temps.items():
            os.rename(tmp, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except OSError:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder_fd)
        raise
