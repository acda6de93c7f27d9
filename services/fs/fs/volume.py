"""The fs volume: the files of `/fs/<path>` and of the uploader's partitions, stored safely.

Layout under the data dir: `files/<path>` for `/fs`, `uploads/<partition>/<name>` for the
uploader (in token mode both under `namespaces/<namespace>/`, see `Volume.scoped`), `.tmp/` for
uploads in flight (on the same file system, so a rename is atomic) and `.meta/` for sha256 sidecars
when the file system has no extended attributes.

The contract:
- A write streams into a temporary file (`Incoming`) while its sha256 is computed; the file is
  fsynced, renamed into place, and its folder fsynced before the write returns. A reader sees the
  old file or the whole new one, never a part; an acknowledged write survives `kill -9`.
- `put` replaces (last writer wins); `create` never replaces (the first writer wins, the others get
  `Exists`, even when they race in several processes or replicas).
- Every path is walked one folder at a time from the volume's root (`fs.folders`): a symlink
  anywhere on the way is refused (`BadPath`), so nothing outside the volume is ever read or written.
- Names, paths and partitions are checked here (`fs.paths`); a value a route already checked
  (before reading a body) is not checked again.
- The sha256 of a stored file is kept with it (`fs.checksums`).
- Leftover temporary files of dead processes are removed by `clean_temporaries` (`fs.temporaries`).
"""
from __future__ import annotations

import contextlib
import copy
import os
import socket
import stat
from pathlib import Path
from typing import IO

from fs import folders, paths
from fs.checksums import Checksums, probe_xattrs
from fs.errors import Conflict, Exists, NotFound
from fs.paths import BadPath
from fs.records import Entry, Located, Stored
from fs.temporaries import Incoming, Temporaries, discarded_on_failure

FILES = "files"
UPLOADS = "uploads"
TEMPORARY = ".tmp"
NAMESPACES = "namespaces"


class Volume:
    """The files of one fs data dir (see the module docstring for the contract)."""

    def __init__(self, root: Path | str, max_size: int, hostname: str | None = None):
        self.root = Path(os.path.realpath(root))
        self.max_size = max_size
        self.tmp = self.root / TEMPORARY
        for folder in (self.root, self.root / FILES, self.root / UPLOADS, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self.host = (hostname or socket.gethostname() or "localhost").replace("~", "-").replace("/", "-")
        self.temporaries = Temporaries(self.tmp, self.host)
        self.checksums = Checksums(self.root, probe_xattrs(self.temporaries.path()), self.temporaries.path)
        self.prefix: tuple[str, ...] = ()

    @property
    def xattrs(self) -> bool:
        """Whether sha256 values are kept in extended attributes (else in sidecars)."""
        return self.checksums.xattrs

    @xattrs.setter
    def xattrs(self, value: bool) -> None:
        self.checksums.xattrs = value

    def scoped(self, namespace: str) -> Volume:
        """This volume seen by one namespace (token mode): its files and partitions live under
        `namespaces/<namespace>/` and nothing outside it is reachable. Temporaries are shared."""
        view = copy.copy(self)
        view.prefix = (NAMESPACES, paths.namespace_folder(namespace))
        return view

    # -- temporary files ------------------------------------------------------------------

    def incoming(self) -> Incoming:
        """A new temporary file to receive an upload into."""
        return Incoming(self.temporaries.path(), self.max_size, self.xattrs)

    def receive(self, stream: IO[bytes]) -> Incoming:
        """A finished temporary file holding all of `stream` (discarded if reading fails)."""
        incoming = self.incoming()
        with discarded_on_failure(incoming):
            incoming.copy_from(stream).finish()
        return incoming

    def write(self, path: str | paths.FsPath, stream: IO[bytes]) -> Stored:
        """`put` of all of `stream` at `path` (refused before reading when the path is bad)."""
        paths.fs_path(path)
        return self.put(path, self.receive(stream))

    def clean_temporaries(self, now: float | None = None) -> int:
        """Remove temporary files of dead processes of this host and any older than a day."""
        return self.temporaries.clean(now)

    # -- writes ---------------------------------------------------------------------------

    def put(self, path: str | paths.FsPath, incoming: Incoming) -> Stored:
        """Store `incoming` at `files/<path>` (a relative `/fs` path), replacing any file there
        (folders are made). On any failure `incoming` is discarded and nothing changes."""
        with discarded_on_failure(incoming):
            names = paths.fs_path(path)
            incoming.finish()
            parts = (*self.prefix, FILES, *names)
            with folders.folder(self.root, parts[:-1], create=True) as folder:
                existing = folders.lstat(folder, parts[-1])
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
        with discarded_on_failure(incoming):
            parts = (*self.prefix, UPLOADS, paths.partition(partition), paths.name(name))
            incoming.finish()
            with folders.folder(self.root, parts[:-1], create=True) as folder:
                folders.lstat(folder, name)
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
        sha256 = incoming.sha256 or ""  # put and create finished it
        if not self.xattrs:
            with contextlib.suppress(OSError):  # a sidecar is a cache: the listing recomputes it
                self.checksums.write_sidecar(relpath, os.stat(self.root / relpath, follow_symlinks=False), sha256)
        return Stored(relpath, incoming.size, sha256)

    def delete(self, path: str) -> None:
        """Remove the file `files/<path>` (NotFound when missing or a folder)."""
        parts = (*self.prefix, FILES, *paths.fs_path(path))
        with folders.folder(self.root, parts[:-1]) as folder:
            existing = folders.lstat(folder, parts[-1])
            if existing is None or not stat.S_ISREG(existing.st_mode):
                raise NotFound()
            try:
                os.unlink(parts[-1], dir_fd=folder)
            except FileNotFoundError:
                raise NotFound() from None
            os.fsync(folder)
        self.checksums.forget(parts)

    # -- reads ----------------------------------------------------------------------------

    def _locate(self, parts: tuple[str, ...]) -> Located:
        """The existing regular file at checked `<parts>` under the data dir, with its kept
        sha256, else NotFound; a symlink on the way is BadPath."""
        with folders.folder(self.root, parts[:-1]) as folder:
            info = folders.lstat(folder, parts[-1])
        if info is None or not stat.S_ISREG(info.st_mode):
            raise NotFound()
        path = self.root.joinpath(*parts)
        if os.path.realpath(path) != str(path):
            raise BadPath("the path leaves the volume through a link")
        sha256 = self.checksums.read(str(path), parts, info)
        return Located("/".join(parts), path, parts[-1], info.st_size, info.st_mtime, sha256)

    def locate_file(self, path: str) -> Located:
        """The file of a relative `/fs` path (everything a download needs)."""
        return self._locate((*self.prefix, FILES, *paths.fs_path(path)))

    def locate_upload(self, partition: str, name: str) -> Located:
        """The file `name` of an uploader partition (everything a download needs)."""
        return self._locate((*self.prefix, UPLOADS, paths.partition(partition), paths.name(name)))

    def listing(self, partition: str) -> list[Entry]:
        """The regular files of a partition by name (empty for an unknown partition)."""
        parts = (*self.prefix, UPLOADS, paths.partition(partition))
        entries = []
        try:
            with folders.folder(self.root, parts) as folder:
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
            return Entry(name, info.st_size, info.st_mtime, self.checksums.of(fd, (*parts, name), info))
        finally:
            os.close(fd)

    # -- health ---------------------------------------------------------------------------

    def partition_count(self) -> int:
        """The uploader's partitions present (the fs family's namespaces, for the metrics)."""
        try:
            return sum(1 for entry in os.scandir(self.root / UPLOADS) if entry.is_dir(follow_symlinks=False))
        except OSError:
            return 0

    def ready(self) -> bool:
        """The volume's folders exist and the temporary folder is writable."""
        if not os.access(self.tmp, os.W_OK):
            raise OSError(f"{self.tmp} is not writable")
        return (self.root / FILES).is_dir() and (self.root / UPLOADS).is_dir()
