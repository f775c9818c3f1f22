"""Folders opened by descriptor, so that root never follows a link another user planted.

On a packaged host the state directory belongs to the service user, and root writes into
it (the supervisor, an admin's `install-units`, `run`, `status`). Whatever lies in a folder
another user owns is theirs to replace at any moment, so root looks nothing up there by
path: `open_dir` walks from `/` one folder at a time, and below the first folder owned by
someone else (the folder is then *guarded*) every name is opened relative to its parent's
descriptor with `O_NOFOLLOW`. There a link, or an entry owned by a third user, is refused
(`UnsafePath`, exit 4, naming it), and root gives away only what it created itself
(`fchown` on its own descriptor). In a user's own folders, and root's, links are followed
as usual; files are never read through a link anywhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat
from pathlib import Path
from types import TracebackType

from sqlsentinel.atomic import write_at
from sqlsentinel.errors import StateDBError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class UnsafePath(StateDBError):
    """Root was about to follow a link, or use an entry, that another user controls."""


def _refuse(path: Path, why: str, owner: tuple[int, int]) -> UnsafePath:
    try:
        who = f"{pwd.getpwuid(owner[0]).pw_name} (uid {owner[0]})"
    except KeyError:
        who = f"uid {owner[0]}"
    return UnsafePath(
        f"refusing {path}: {why}, in a folder that {who} controls; root never follows a "
        "link or uses another user's entry there (remove it, or fix its owner)"
    )


class Dir:
    """An open folder. `owner` (uid, gid) is the user who controls it when root works in a
    folder that is not root's (guarded); None otherwise."""

    def __init__(self, fd: int, path: Path, owner: tuple[int, int] | None) -> None:
        self.fd, self.path, self.owner = fd, path, owner

    @property
    def guarded(self) -> bool:
        """Root in a folder another user controls: nothing is followed, owners are checked."""
        return self.owner is not None

    def __enter__(self) -> Dir:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the descriptor."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def child(self, name: str, *, create: bool = False, mode: int = 0o700) -> Dir:
        """The subfolder `name` (created with `mode` if missing and `create`); in a guarded
        folder it must be a real folder owned by root or the folder's owner."""
        flags = _DIR | (os.O_NOFOLLOW if self.guarded else 0)
        try:
            fd = os.open(name, flags, dir_fd=self.fd)
        except FileNotFoundError:
            if not create:
                raise
            fd = self._make(name, mode, flags)
        except OSError as exc:
            raise self._failure(name, exc) from None
        sub = Dir(fd, self.path / name, self.owner)
        try:
            sub._check_owner(os.fstat(fd), self.path / name)
        except UnsafePath:
            sub.close()
            raise
        return sub

    def _make(self, name: str, mode: int, flags: int) -> int:
        try:
            try:
                os.mkdir(name, mode, dir_fd=self.fd)
            except FileExistsError:  # another process was first
                return os.open(name, flags, dir_fd=self.fd)
            fd = os.open(name, flags, dir_fd=self.fd)
        except OSError as exc:
            raise StateDBError(
                f"cannot create the folder {self.path / name}: {exc.strerror or exc}"
            ) from None
        os.fchmod(fd, mode)  # not narrowed by the umask
        return fd

    def _failure(self, name: str, exc: OSError) -> StateDBError:
        path = self.path / name
        if self.owner is not None and exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                link = stat.S_ISLNK(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode)
            except OSError:
                link = False
            return _refuse(path, "it is a symbolic link" if link else "not a folder", self.owner)
        return StateDBError(f"cannot open the folder {path}: {exc.strerror or exc}")

    def _check_owner(self, st: os.stat_result, path: Path) -> None:
        if self.owner is not None and st.st_uid not in (0, self.owner[0]):
            raise _refuse(path, f"it belongs to uid {st.st_uid}", self.owner)

    def take(self, mode: int) -> None:
        """Make this folder root's (group: the owner's), so its owner can read but no longer
        change it: root's copy of what it applies (an earlier release left it theirs)."""
        if self.owner is not None:
            st = os.fstat(self.fd)
            if st.st_uid != 0 or st.st_gid != self.owner[1]:
                os.fchown(self.fd, 0, self.owner[1])
            if stat.S_IMODE(st.st_mode) != mode:
                os.fchmod(self.fd, mode)

    def give(self) -> None:
        """Give this folder (which root just made) to the owner of the guarded tree."""
        if self.owner is not None and os.fstat(self.fd).st_uid == 0:
            os.fchown(self.fd, *self.owner)

    def write(self, name: str, data: bytes, mode: int = 0o600, *, give: bool = False) -> None:
        """Replace `name` atomically (a temporary file and a rename, neither following a
        link). With `give` the file goes to the owner of a guarded folder; else it is
        root's there, readable by the owner's group when `mode` says so."""
        owner = None
        if self.owner is not None:
            owner = self.owner if give else (0, self.owner[1])
        write_at(self.fd, {name: data}, mode, owner=owner)

    def read(self, name: str, limit: int, *, root_only: bool = False) -> bytes:
        """The bytes of regular file `name`, never through a link; at most `limit` bytes.

        Raises FileNotFoundError when it is missing and UnsafePath when it is not a
        regular file, is too large, or (guarded) belongs to a third user, or to anyone but
        root with `root_only` (what root trusts of its own writing).
        """
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePath(f"refusing {self.path / name}: it is a symbolic link") from None
            raise
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UnsafePath(f"refusing {self.path / name}: not a regular file")
            if st.st_size > limit:
                raise UnsafePath(f"refusing {self.path / name}: over {limit:,} bytes")
            self._check_owner(st, self.path / name)
            if root_only and self.owner is not None and st.st_uid != 0:
                raise _refuse(self.path / name, "root did not write it", self.owner)
            return f.read(limit + 1)[:limit]

    def names(self) -> list[str]:
        """The entries of this folder."""
        return os.listdir(self.fd)

    def unlink(self, name: str) -> None:
        """Remove `name` (never what a link points to); nothing when it is gone."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def rename(self, name: str, new: str) -> None:
        """Rename an entry of this folder (a link is renamed, not followed)."""
        os.rename(name, new, src_dir_fd=self.fd, dst_dir_fd=self.fd)


def open_dir(path: Path, *, create: bool = False, mode: int = 0o700) -> Dir:
    """Open folder `path` (creating missing folders with `mode` when `create`), walking from
    `/` so that nothing below a folder another user owns is followed.

    Raises FileNotFoundError when it is missing (without `create`), UnsafePath for a link or
    an entry owned by a third user below another user's folder, StateDBError otherwise.
    """
    path = Path(os.path.abspath(path))
    if os.geteuid() != 0:  # only root acts for others: the plain open
        return _plain(path, create, mode)
    here = Dir(os.open("/", _DIR), Path("/"), None)
    try:
        for part in path.parts[1:]:
            nxt = here.child(part, create=create, mode=mode)
            st = os.fstat(nxt.fd)
            if nxt.owner is None and st.st_uid != 0:
                nxt.owner = (st.st_uid, st.st_gid)
            here.close()
            here = nxt
    except BaseException:
        here.close()
        raise
    return here


def _plain(path: Path, create: bool, mode: int) -> Dir:
    try:
        if create:
            path.mkdir(mode=mode, parents=True, exist_ok=True)
        return Dir(os.open(path, _DIR), path, None)
    except FileNotFoundError:
        raise
    except OSError as exc:
        verb = "create" if create else "open"
        raise StateDBError(f"cannot {verb} the folder {path}: {exc.strerror or exc}") from None


def prepare_file(path: Path, *, create: bool, siblings: tuple[str, ...] = ()) -> str | None:
    """Before root opens `path` by name (SQLite takes names, not descriptors): refuse it, or a
    sibling (`-wal`, …), when it is a link, not a regular file, or a third user's; with
    `create`, make it when missing (0600, given to the folder's owner).

    Returns, in a guarded folder, the real path the library must report having opened
    (anything else means a link was swapped in meanwhile); None elsewhere.
    """
    with open_dir(path.parent, create=create) as folder:
        if not folder.guarded:
            if create:
                _create_for_owner(folder, path.name)
            return None
        for name in (path.name, *(path.name + s for s in siblings)):
            try:
                st = os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            where = folder.path / name
            if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
                why = "it is a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
                raise _refuse(where, why, folder.owner or (0, 0))
            folder._check_owner(st, where)
        if create:
            _create_for_owner(folder, path.name)
        return os.path.join(os.readlink(f"/proc/self/fd/{folder.fd}"), path.name)


def _create_for_owner(folder: Dir, name: str) -> None:
    """Create empty file `name` (0600) in `folder`, for its owner when it is guarded; nothing
    when it exists."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, 0o600, dir_fd=folder.fd)
    except FileExistsError:
        return
    try:
        if folder.owner is not None:
            os.fchown(fd, *folder.owner)
    finally:
        os.close(fd)


def only_ours(path: Path) -> bool:
    """True when nobody but the current user and root can change what `path` names: every
    existing folder on its real path is theirs and writable by nobody else (a sticky folder
    such as /tmp is fine: no one else may rename or remove what is ours there)."""
    real = Path(os.path.realpath(path))
    for folder in [*reversed(real.parents), real]:
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            return True  # what is missing, the current user will create
        except OSError:
            return False
        if st.st_uid not in (0, os.geteuid()):
            return False
        if st.st_mode & 0o022 and not (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
            return False
    return True
