"""Seeing the config file change, however it is changed.

The watcher polls the file's `stat()` (following symlinks) and compares device, inode,
size, mtime and ctime. That one check sees an in-place write, an editor's save by
rename, delete-and-recreate, and a Kubernetes ConfigMap's `..data` symlink swap alike,
on every filesystem (inotify loses track of a swapped symlink or a renamed-over file;
polling cannot), for one `stat()` per poll. A change is reported once the file has
stayed the same for `quiet_s` (an editor's or `kubectl`'s burst becomes one reload).
"""

from __future__ import annotations

import os

POLL_S = 0.5  # how often the file is looked at
QUIET_S = 0.4  # how long it must stay unchanged before a reload

Signature = tuple[int, int, int, int, int] | None


def signature(path: str) -> Signature:
    """What identifies the file's current content (None while it does not exist)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FileWatch:
    """Reports a settled change of one file; `now` is a monotonic clock in seconds."""

    def __init__(self, path: str, quiet_s: float = QUIET_S) -> None:
        self.path = path
        self.quiet_s = quiet_s
        self._seen = signature(path)
        self._changed_at: float | None = None

    def poll(self, now: float) -> bool:
        """True once after the file changed and then stayed unchanged for `quiet_s`."""
        current = signature(self.path)
        if current != self._seen:
            self._seen, self._changed_at = current, now
            return False
        if self._changed_at is not None and now - self._changed_at >= self.quiet_s:
            self._changed_at = None
            return True
        return False
