"""A full volume is one error, `507 no_space`, whichever storage noticed it.

`NoSpace` is raised by storage code that checks for it (fs's temporary files); any other write
that fails for want of space (an OSError ENOSPC or EDQUOT, SQLite's SQLITE_FULL "database or
disk is full", or SQLITE_IOERR_SHMSIZE when there is no room for a WAL's shared-memory file)
reaches the error handlers as it was raised and is mapped here, once, by `as_no_space`. The write
that failed left nothing behind (SQLite rolls the transaction back; file writes go to a temporary
file first), and writes work again as soon as space is freed.
"""
from __future__ import annotations

import errno
import sqlite3

from hipflask.errors import HipflaskError

NO_SPACE_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT))
SQLITE_FULL = 13
SQLITE_IOERR_SHMSIZE = 4874  # no room to grow the -shm file a WAL connection needs


class NoSpace(HipflaskError):
    def __init__(self, message: str = "the volume is full; nothing was stored"):
        super().__init__(507, "no_space", message)


def is_no_space(exc: BaseException | None) -> bool:
    """True when `exc`, or an exception it was raised from, says the volume is full."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and (
                getattr(exc, "sqlite_errorcode", None) in (SQLITE_FULL, SQLITE_IOERR_SHMSIZE)
                or "database or disk is full" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def as_no_space(exc: BaseException) -> NoSpace | None:
    """The NoSpace answer for an unhandled exception caused by a full volume, else None."""
    return NoSpace() if is_no_space(exc) else None
