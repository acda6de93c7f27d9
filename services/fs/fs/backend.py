"""The interface every fs backend implements (`fs.volume.Volume` on a local volume, `fs.s3.S3Store`
on an S3-compatible object store); routes use this, never an implementation.

The contract, the same on every backend (tests/service/fs/test_fs_storage.py runs it on each):
- Paths, partitions and names follow `fs.paths`, checked by the backend (`BadPath`, 400).
- A write streams into a temporary file while its sha256 is computed and is visible only once
  whole: a reader sees the old file or the whole new one, never a part, and a cut-off or refused
  upload leaves nothing. An acknowledged write survives `kill -9`.
- `put` replaces (last writer wins); `create` never replaces: the first writer wins and the others
  get `Exists`, even when they race in several processes or replicas.
- A path is a `Conflict` when a folder is where its file would go, or a file where a folder would.
- Reads of a missing file are `NotFound`; a listing of an unknown partition is empty.
"""
from __future__ import annotations

from typing import IO, Protocol

from fs.paths import FsPath
from fs.records import Entry, Located, Stored
from fs.temporaries import Incoming


class FileStore(Protocol):
    max_size: int

    def scoped(self, namespace: str) -> FileStore:
        """This store seen by one namespace (token mode): its own files and partitions only."""

    def incoming(self) -> Incoming:
        """A new temporary file to receive an upload into (bounded by `max_size`)."""

    def receive(self, stream: IO[bytes]) -> Incoming:
        """A finished temporary file holding all of `stream` (discarded if reading fails)."""

    def write(self, path: str | FsPath, stream: IO[bytes]) -> Stored:
        """`put` of all of `stream` at `path`, refused before reading when the path is bad."""

    def put(self, path: str | FsPath, incoming: Incoming) -> Stored:
        """Store `incoming` at the `/fs` path, replacing any file there."""

    def create(self, partition: str, name: str, incoming: Incoming) -> Stored:
        """Store `incoming` as `name` in an uploader partition unless that name exists (`Exists`)."""

    def delete(self, path: str) -> None:
        """Remove the file at the `/fs` path (`NotFound` when missing)."""

    def locate_file(self, path: str) -> Located:
        """The file at the `/fs` path, with everything a download needs."""

    def locate_upload(self, partition: str, name: str) -> Located:
        """The file `name` of a partition, with everything a download needs."""

    def listing(self, partition: str) -> list[Entry]:
        """The files of a partition, sorted by name."""

    def clean_temporaries(self, now: float | None = None) -> int:
        """Remove what dead uploads left behind; how many were removed."""

    def ready(self) -> bool:
        """True when the backend can store files now (or raises saying why not)."""


class ObjectStore(FileStore, Protocol):
    """A FileStore on an object store: its `Located` files have a `key`, and are sent from a URL
    (through the gateway) or by the service itself."""

    def url(self, located: Located, method: str = "GET") -> str:
        """A presigned URL of the object for `method`."""

    def open(self, located: Located, byte_range: str | None = None) -> dict:
        """The object's GET answer (`Body`, `ContentLength`, `ContentRange`, ...) for `byte_range`."""
