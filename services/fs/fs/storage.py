"""The fs volume: the files of `/fs/<path>` and of the uploader's partitions, stored safely.

Layout under the data dir: `files/<path>` for `/fs`, `uploads/<partition>/<name>` for the
uploader, `.tmp/` for uploads in flight (on the same file system, so a rename is atomic) and
`.meta/` for sha256 sidecars when the file system has no extended attributes.

The contract:
- A write streams into a temporary file (`Incoming`) while its sha256 is computed; the file is
  fsynced, renamed into place, and its folder fsynced before the write returns. A reader sees the
  old file or the whole new one, never a part; an acknowledged write survives `kill -9`.
- `put` replaces (last writer wins); `create` never replaces (the first writer wins, the others get
  `Exists`, even when they race in several processes or replicas).
- Every path is walked one folder at a time from the volume's root with `O_NOFOLLOW`: a symlink
  anywhere on the way is refused (`BadPath`), so nothing outside the volume is ever read or written.
- The sha256 of a stored file lives in its extended attribute `user.hipflask.sha256` (set on the
  temporary file before the rename, so it is atomic with the content), or in a sidecar checked
  against the file's size, mtime and inode; a listing computes and stores it when missing.
- Temporary names carry the host, the pid and the process start time: `clean_temporaries` removes
  those of dead processes of this host and any older than a day.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import socket
import stat
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

from flask import Flask

from hipflask.config import Env
from hipflask.errors import HipflaskError
from hipflask.health import add_ready_check

from fs import paths
from fs.paths import BadPath
from fs.streaming import StreamingRequest

SHA256_XATTR = "user.hipflask.sha256"
CHUNK_SIZE = 1024 * 1024
STALE_TEMPORARY_SECONDS = 24 * 3600
FILES = "files"
UPLOADS = "uploads"
TEMPORARY = ".tmp"
METADATA = ".meta"
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class NotFound(HipflaskError):
    def __init__(self, message: str = "no such file"):
        super().__init__(404, "not_found", message)


class Exists(HipflaskError):
    """`create` found a file of that name: the first one is kept."""

    def __init__(self, name: str):
        super().__init__(409, "exists", f"{name} already exists; the first file is kept")
        self.name = name


class Conflict(HipflaskError):
    def __init__(self, message: str):
        super().__init__(409, "conflict", message)


class TooLarge(HipflaskError):
    def __init__(self, limit: int):
        super().__init__(413, "too_large", f"uploads are limited to {limit} bytes (FS_MAX_UPLOAD_SIZE)")


class NoSpace(HipflaskError):
    def __init__(self):
        super().__init__(507, "no_space", "the volume is full; nothing was stored")


@dataclass(frozen=True)
class Stored:
    """A file as stored: its path relative to the data dir, its size and sha256."""

    relpath: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Located:
    """An existing regular file: `path` is absolute, `relpath` relative to the data dir."""

    relpath: str
    path: Path
    name: str
    size: int
    modified: float


@dataclass(frozen=True)
class Entry:
    """One file of a partition listing."""

    name: str
    size: int
    modified: float
    sha256: str | None

    @property
    def modified_iso(self) -> str:
        return datetime.fromtimestamp(self.modified, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

    def as_json(self) -> dict:
        return {"name": self.name, "size": self.size, "modified": self.modified_iso, "sha256": self.sha256}


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


class Incoming:
    """A file being received into the volume's temporary folder: hashed, counted and bounded
    as it is written (it is a write-only stream, which is all the multipart parser needs).

    `finish()` flushes it to disk; the volume's `put` or `create` then moves it into place.
    `discard()` (also `close()`) removes it unless it was moved; a context manager discards too.
    """

    def __init__(self, volume: "Volume"):
        self.volume = volume
        self.path = volume.tmp / volume.temporary_name()
        self.size = 0
        self.sha256: str | None = None
        self.committed = False
        self._hash = hashlib.sha256()
        self._file = open(self.path, "xb")
        os.fchmod(self._file.fileno(), 0o644)

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.volume.max_size:
            raise TooLarge(self.volume.max_size)
        self._hash.update(data)
        try:
            self._file.write(data)
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise NoSpace() from exc
            raise
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """The multipart parser rewinds a finished part; the bytes are never read back here."""
        return 0

    def copy_from(self, stream: BinaryIO) -> "Incoming":
        while chunk := stream.read(CHUNK_SIZE):
            self.write(chunk)
        return self

    def finish(self) -> str:
        """Flush and fsync the file (with its sha256 attribute when the volume keeps them)."""
        if self.sha256 is None:
            self.sha256 = self._hash.hexdigest()
            try:
                self._file.flush()
                if self.volume.xattrs:
                    os.setxattr(self._file.fileno(), SHA256_XATTR, self.sha256.encode())
                os.fsync(self._file.fileno())
            except OSError as exc:
                if exc.errno in _NO_SPACE:
                    raise NoSpace() from exc
                raise
            finally:
                self._file.close()
        return self.sha256

    def discard(self) -> None:
        self._file.close()
        if not self.committed:
            self.committed = True
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    close = discard

    def __enter__(self) -> "Incoming":
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()


@contextlib.contextmanager
def _discarded_on_failure(incoming: Incoming) -> Iterator[None]:
    try:
        yield
    except BaseException:
        incoming.discard()
        raise


class Volume:
    """The files of one fs data dir (see the module docstring for the contract)."""

    def __init__(self, root: Path | str, max_size: int, hostname: str | None = None):
        self.root = Path(os.path.realpath(root))
        self.max_size = max_size
        self.tmp = self.root / TEMPORARY
        for folder in (self.root, self.root / FILES, self.root / UPLOADS, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        host = (hostname or socket.gethostname() or "localhost").replace("~", "-").replace("/", "-")
        self.host = host
        self.xattrs = self._probe_xattrs()

    # -- temporary files ------------------------------------------------------------------

    def temporary_name(self) -> str:
        pid = os.getpid()
        return f"{self.host}~{pid}~{_process_start(pid)}~{secrets.token_hex(8)}.part"

    def incoming(self) -> Incoming:
        """A new temporary file to receive an upload into."""
        return Incoming(self)

    def receive(self, stream: BinaryIO) -> Incoming:
        """A finished temporary file holding all of `stream` (discarded if reading fails)."""
        incoming = Incoming(self)
        with _discarded_on_failure(incoming):
            incoming.copy_from(stream).finish()
        return incoming

    def clean_temporaries(self, now: float | None = None) -> int:
        """Remove temporary files of dead processes of this host and any older than a day."""
        now = time.time() if now is None else now
        removed = 0
        for entry in os.scandir(self.tmp):
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

    def _probe_xattrs(self) -> bool:
        probe = self.tmp / self.temporary_name()
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.setxattr(fd, SHA256_XATTR, b"probe")
                return True
            except OSError:
                return False
            finally:
                os.close(fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(probe)

    # -- walking folders without following symlinks ----------------------------------------

    @contextlib.contextmanager
    def _folder(self, names: tuple[str, ...], create: bool = False) -> Iterator[int]:
        """A descriptor of the folder `root/names...`, opened one name at a time, never through
        a symlink; missing folders are made (and their parents fsynced) when `create`."""
        fd = os.open(self.root, _DIRECTORY)
        try:
            for name in names:
                fd = self._enter(fd, name, create)
            yield fd
        finally:
            os.close(fd)

    @staticmethod
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

    @staticmethod
    def _lstat(folder: int, name: str):
        """The entry `name` of `folder` without following it; None when missing."""
        try:
            info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            raise BadPath(f"{name!r} is a symbolic link; links are refused")
        return info

    # -- writes ---------------------------------------------------------------------------

    def put(self, names: tuple[str, ...], incoming: Incoming) -> Stored:
        """Store `incoming` at `files/<names>`, replacing any file there (folders are made).
        On any failure `incoming` is discarded and nothing changes."""
        with _discarded_on_failure(incoming):
            names = tuple(paths.name(name) for name in names)
            incoming.finish()
            parts = (FILES, *names)
            with self._folder(parts[:-1], create=True) as folder:
                existing = self._lstat(folder, parts[-1])
                if existing is not None and not stat.S_ISREG(existing.st_mode):
                    raise Conflict(f"{'/'.join(names)} is a folder")
                try:
                    os.replace(incoming.path, parts[-1], dst_dir_fd=folder)
                except IsADirectoryError:
                    raise Conflict(f"{'/'.join(names)} is a folder") from None
                incoming.committed = True
                os.fsync(folder)
        return self._stored(parts, incoming)

    def create(self, partition: str, name: str, incoming: Incoming) -> Stored:
        """Store `incoming` as `uploads/<partition>/<name>` unless that name exists (`Exists`).
        On any failure `incoming` is discarded and nothing changes."""
        with _discarded_on_failure(incoming):
            parts = (UPLOADS, paths.partition(partition), paths.name(name))
            incoming.finish()
            with self._folder(parts[:-1], create=True) as folder:
                self._lstat(folder, name)
                try:
                    os.link(incoming.path, name, dst_dir_fd=folder, follow_symlinks=False)
                except FileExistsError:
                    raise Exists(name) from None
                incoming.committed = True
                os.fsync(folder)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(incoming.path)
        return self._stored(parts, incoming)

    def _stored(self, parts: tuple[str, ...], incoming: Incoming) -> Stored:
        relpath = "/".join(parts)
        if not self.xattrs:
            with contextlib.suppress(OSError):  # a sidecar is a cache: the listing recomputes it
                self._write_sidecar(relpath, os.stat(self.root / relpath, follow_symlinks=False), incoming.sha256)
        return Stored(relpath, incoming.size, incoming.sha256)

    def delete(self, names: tuple[str, ...]) -> None:
        """Remove the file `files/<names>` (NotFound when missing or a folder)."""
        parts = (FILES, *(paths.name(name) for name in names))
        with self._folder(parts[:-1]) as folder:
            existing = self._lstat(folder, parts[-1])
            if existing is None or not stat.S_ISREG(existing.st_mode):
                raise NotFound()
            try:
                os.unlink(parts[-1], dir_fd=folder)
            except FileNotFoundError:
                raise NotFound() from None
            os.fsync(folder)
        if not self.xattrs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._sidecar(parts))

    # -- reads ----------------------------------------------------------------------------

    def locate(self, parts: tuple[str, ...]) -> Located:
        """The existing regular file at `<parts>` under the data dir (`("files", "a", "b.txt")`,
        `("uploads", partition, name)`), else NotFound; a symlink on the way is BadPath."""
        if not parts or parts[0] not in (FILES, UPLOADS):
            raise NotFound()
        parts = (parts[0], *(paths.name(name) for name in parts[1:]))
        with self._folder(parts[:-1]) as folder:
            info = self._lstat(folder, parts[-1])
        if info is None or not stat.S_ISREG(info.st_mode):
            raise NotFound()
        path = self.root.joinpath(*parts)
        if os.path.realpath(path) != str(path):
            raise BadPath("the path leaves the volume through a link")
        return Located("/".join(parts), path, parts[-1], info.st_size, info.st_mtime)

    def locate_file(self, names: tuple[str, ...]) -> Located:
        return self.locate((FILES, *names))

    def locate_upload(self, partition: str, name: str) -> Located:
        return self.locate((UPLOADS, paths.partition(partition), name))

    def listing(self, partition: str) -> list[Entry]:
        """The regular files of a partition by name (empty for an unknown partition)."""
        parts = (UPLOADS, paths.partition(partition))
        entries = []
        try:
            with self._folder(parts) as folder:
                for item in os.scandir(folder):
                    if not item.is_file(follow_symlinks=False):
                        continue
                    try:
                        entries.append(self._entry(folder, parts, item.name))
                    except (FileNotFoundError, BadPath):
                        continue
        except NotFound:
            return []
        return sorted(entries, key=lambda entry: entry.name)

    def _entry(self, folder: int, parts: tuple[str, ...], name: str) -> Entry:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=folder)
        try:
            info = os.fstat(fd)
            return Entry(name, info.st_size, info.st_mtime, self._sha256(fd, (*parts, name), info))
        finally:
            os.close(fd)

    def known_sha256(self, located: Located) -> str | None:
        """The stored sha256 of a located file, None when it was never computed (never hashes)."""
        info = None if self.xattrs else os.stat(located.path, follow_symlinks=False)
        return self._read_sha256(str(located.path), tuple(located.relpath.split("/")), info)

    def _sha256(self, fd: int, parts: tuple[str, ...], info: os.stat_result) -> str:
        known = self._read_sha256(fd, parts, info)
        if known is not None:
            return known
        digest = hashlib.sha256()
        while chunk := os.read(fd, CHUNK_SIZE):
            digest.update(chunk)
        value = digest.hexdigest()
        with contextlib.suppress(OSError):
            if self.xattrs:
                os.setxattr(fd, SHA256_XATTR, value.encode())
            else:
                self._write_sidecar("/".join(parts), info, value)
        return value

    def _read_sha256(self, source: int | str, parts: tuple[str, ...], info: os.stat_result | None) -> str | None:
        """The sha256 kept for a file (`source`: its descriptor or its checked path), None if none."""
        if self.xattrs:
            try:
                return os.getxattr(source, SHA256_XATTR).decode()
            except OSError:
                return None
        try:
            with open(self._sidecar(parts), "rb") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        if (record.get("size"), record.get("mtime_ns"), record.get("ino")) != (
                info.st_size, info.st_mtime_ns, info.st_ino):
            return None
        return record.get("sha256")

    # -- sidecars (file systems without extended attributes) ---------------------------------

    def _sidecar(self, parts: tuple[str, ...]) -> Path:
        return self.root.joinpath(METADATA, *parts[:-1], parts[-1] + ".json")

    def _write_sidecar(self, relpath: str, info: os.stat_result, sha256: str) -> None:
        parts = tuple(relpath.split("/"))
        record = json.dumps({"sha256": sha256, "size": info.st_size, "mtime_ns": info.st_mtime_ns,
                             "ino": info.st_ino}).encode()
        with self._folder((METADATA, *parts[:-1]), create=True) as folder:
            temporary = self.tmp / self.temporary_name()
            try:
                with open(temporary, "xb") as handle:
                    handle.write(record)
                os.replace(temporary, parts[-1] + ".json", dst_dir_fd=folder)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)

    # -- health ---------------------------------------------------------------------------

    def ready(self) -> bool:
        """The volume's folders exist and the temporary folder is writable."""
        if not os.access(self.tmp, os.W_OK):
            raise OSError(f"{self.tmp} is not writable")
        return (self.root / FILES).is_dir() and (self.root / UPLOADS).is_dir()


def init_app(app: Flask, env: Env) -> None:
    """Read FS_MAX_UPLOAD_SIZE and FS_ACCEL_REDIRECT, open the volume, clean leftovers of dead
    uploads, and make multipart uploads stream into the volume."""
    settings = app.extensions["hipflask"]
    max_size = env.size("FS_MAX_UPLOAD_SIZE", "2g")
    volume = Volume(settings.data_dir, max_size)
    volume.clean_temporaries()
    app.config["MAX_CONTENT_LENGTH"] = max_size
    app.config["FS_ACCEL_REDIRECT"] = env.bool("FS_ACCEL_REDIRECT", True)
    app.request_class = StreamingRequest
    app.extensions["fs"] = volume
    add_ready_check(app, "volume", volume.ready)
