"""Walking the volume's folders one name at a time with `O_NOFOLLOW`: a symlink anywhere on the way is
refused (`BadPath`), so nothing outside the volume is ever read or written."""
from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from fs.errors import Conflict, NotFound
from fs.paths import BadPath

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@contextlib.contextmanager
def folder(root: Path, names: tuple[str, ...], create: bool = False) -> Iterator[int]:
    """A descriptor of the folder `root/names...`, opened one name at a time, never through
    a symlink; missing folders are made (and their parents fsynced) when `create`."""
    fd = os.open(root, _DIRECTORY)
    try:
        for name in names:
            fd = _enter(fd, name, create)
        yield fd
    finally:
        os.close(fd)


def _enter(parent: int, name: str, create: bool) -> int:
    """The descriptor of the folder `name` in `parent`; closes `parent` only on success."""
    try:
        try:
            child = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent)
            child = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
            os.fchmod(child, 0o755)
            os.fsync(parent)
    except FileNotFoundError:
        raise NotFound() from None
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        if stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
            raise BadPath(f"{name!r} is a symbolic link; links are refused") from None
        if create:
            raise Conflict(f"{name!r} is a file, not a folder") from None
        raise NotFound() from None
    os.close(parent)
    return child


def lstat(folder_fd: int, name: str) -> os.stat_result | None:
    """The entry `name` of a folder without following it; None when missing."""
    try:
        info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise BadPath(f"{name!r} is a symbolic link; links are refused")
    return info
