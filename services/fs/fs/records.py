"""What the volume answers: a stored file, a located file, a listing entry."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Stored:
    """A file as stored: its path relative to the data dir, its size and sha256."""

    relpath: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Located:
    """An existing regular file, with what a download needs: `relpath` relative to the data dir
    (or the bucket prefix), `path` absolute on a local volume (None in an object store), `key` the
    object's key in an object store, `object_etag` the object store's ETag of it, `sha256` the kept
    one (None when never computed)."""

    relpath: str
    path: Path | None
    name: str
    size: int
    modified: float
    sha256: str | None
    key: str | None = None
    object_etag: str | None = None

    @property
    def volume_etag(self) -> str | None:
        """The ETag nginx serves this volume file with (hex mtime-size, as `"%xT-%xO"`), None in an object store."""
        return f'"{int(self.modified):x}-{self.size:x}"' if self.path is not None else None

    @property
    def served_etag(self) -> str | None:
        """The ETag the gateway serves the file with: nginx's for a volume file, the store's for an object."""
        return self.volume_etag if self.path is not None else self.object_etag


@dataclass(frozen=True)
class Entry:
    """One file of a partition listing."""

    name: str
    size: int
    modified: float
    sha256: str | None

    @property
    def modified_iso(self) -> str:
        return datetime.fromtimestamp(self.modified, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def as_json(self) -> dict:
        return {"name": self.name, "size": self.size, "modified": self.modified_iso, "sha256": self.sha256}
