"""Files in flight: an upload received into the volume's temporary folder, and the names that let a
restarted service tell its own leftovers from those of live processes.

Temporary names carry the host, the pid and the process start time: `clean` removes those of dead
processes of this host and any older than a day.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from hipflask.storage_errors import NO_SPACE_ERRNOS

from fs.checksums import SHA256_XATTR
from fs.errors import NoSpace, TooLarge
from fs.write_behind import WriteBehind

CHUNK_SIZE = 1024 * 1024
STALE_TEMPORARY_SECONDS = 24 * 3600


def _process_start(pid: int) -> str:
    """The start time of `pid` in clock ticks since boot ('0' when /proc does not say), so a
    reused pid is not mistaken for the process that wrote a temporary file."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return "0"


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return start == "0" or _process_start(pid) in (start, "0")


class Temporaries:
    """The temporary folder of a volume (on the volume's file system, so a rename is atomic)."""

    def __init__(self, folder: Path, host: str):
        self.folder = folder
        self.host = host

    def name(self) -> str:
        pid = os.getpid()
        return f"{self.host}~{pid}~{_process_start(pid)}~{secrets.token_hex(8)}.part"

    def path(self) -> Path:
        return self.folder / self.name()

    def clean(self, now: float | None = None) -> int:
        """Remove temporary files of dead processes of this host and any older than a day."""
        now = time.time() if now is None else now
        removed = 0
        for entry in os.scandir(self.folder):
            host, _, rest = entry.name.partition("~")
            pid, _, rest = rest.partition("~")
            start = rest.partition("~")[0]
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            stale = age > STALE_TEMPORARY_SECONDS
            orphan = host == self.host and pid.isdigit() and not _alive(int(pid), start)
            if stale or orphan:
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    os.unlink(entry.path)
                    removed += 1
        return removed


class Incoming:
    """A file being received into the volume's temporary folder: hashed, counted and bounded
    as it is written (it is a write-only stream, which is all the multipart parser needs).

    `finish()` flushes it to disk; the volume's `put` or `create` then moves it into place.
    `discard()` (also `close()`) removes it unless it was moved; a context manager discards too.
    """

    def __init__(self, path: Path, max_size: int, xattrs: bool):
        self.path = path
        self.max_size = max_size
        self.xattrs = xattrs
        self.size = 0
        self.sha256: str | None = None
        self.committed = False
        self._hash = hashlib.sha256()
        self._file = open(self.path, "xb")
        self._behind: WriteBehind | None = None  # past the first CHUNK_SIZE bytes
        os.fchmod(self._file.fileno(), 0o644)

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.max_size:
            raise TooLarge(self.max_size)
        self._hash.update(data)
        with _no_space_named():
            if self._behind is not None:
                self._behind.write(data)
            else:
                self._file.write(data)
                if self.size > CHUNK_SIZE:
                    self._behind = WriteBehind(self._file)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """The multipart parser rewinds a finished part; the bytes are never read back here."""
        return 0

    def copy_from(self, stream: IO[bytes]) -> Incoming:
        while chunk := stream.read(CHUNK_SIZE):
            self.write(chunk)
        return self

    def finish(self) -> str:
        """Flush and fsync the file (with its sha256 attribute when the volume keeps them)."""
        if self.sha256 is None:
            self.sha256 = self._hash.hexdigest()
            try:
                with _no_space_named():
                    self._drain()
                    self._file.flush()
                    if self.xattrs:
                        os.setxattr(self._file.fileno(), SHA256_XATTR, self.sha256.encode())
                    os.fsync(self._file.fileno())
            finally:
                self._file.close()
        return self.sha256

    def _drain(self) -> None:
        behind, self._behind = self._behind, None
        if behind is not None:
            behind.drain()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._drain()
        self._file.close()
        if not self.committed:
            self.committed = True
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    close = discard

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()


@contextlib.contextmanager
def _no_space_named() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in NO_SPACE_ERRNOS:
            raise NoSpace() from exc
        raise


@contextlib.contextmanager
def discarded_on_failure(incoming: Incoming) -> Iterator[None]:
    try:
        yield
    except BaseException:
        incoming.discard()
        raise
