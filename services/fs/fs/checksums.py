"""The sha256 of each stored file: in its extended attribute `user.hipflask.sha256` (set on the
temporary file before the rename, so it is atomic with the content), or, on file systems without
extended attributes, in a sidecar under `.meta/` checked against the file's size, mtime and inode.
A listing computes and stores it when missing."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from fs import folders

SHA256_XATTR = "user.hipflask.sha256"
METADATA = ".meta"
READ_SIZE = 1024 * 1024


def probe_xattrs(probe: Path) -> bool:
    """Whether the file system of `probe` (a free temporary path) keeps user extended attributes."""
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


class Checksums:
    """The kept sha256 of the files of one volume (`root`); `temporary` gives free temporary paths
    on the volume for writing sidecars atomically."""

    def __init__(self, root: Path, xattrs: bool, temporary: Callable[[], Path]):
        self.root = root
        self.xattrs = xattrs
        self.temporary = temporary

    def read(self, source: int | str, parts: tuple[str, ...], info: os.stat_result) -> str | None:
        """The sha256 kept for a file (`source`: its descriptor or its checked path), None if none."""
        if self.xattrs:
            try:
                return os.getxattr(source, SHA256_XATTR).decode()
            except OSError:
                return None
        try:
            with open(self.sidecar(parts), "rb") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        if (record.get("size"), record.get("mtime_ns"), record.get("ino")) != (
                info.st_size, info.st_mtime_ns, info.st_ino):
            return None
        return record.get("sha256")

    def of(self, fd: int, parts: tuple[str, ...], info: os.stat_result) -> str:
        """The sha256 of an open file: the kept one, or computed now and kept."""
        known = self.read(fd, parts, info)
        if known is not None:
            return known
        digest = hashlib.sha256()
        while chunk := os.read(fd, READ_SIZE):
            digest.update(chunk)
        value = digest.hexdigest()
        with contextlib.suppress(OSError):
            if self.xattrs:
                os.setxattr(fd, SHA256_XATTR, value.encode())
            else:
                self.write_sidecar("/".join(parts), info, value)
        return value

    def sidecar(self, parts: tuple[str, ...]) -> Path:
        return self.root.joinpath(METADATA, *parts[:-1], parts[-1] + ".json")

    def write_sidecar(self, relpath: str, info: os.stat_result, sha256: str) -> None:
        parts = tuple(relpath.split("/"))
        record = json.dumps({"sha256": sha256, "size": info.st_size, "mtime_ns": info.st_mtime_ns,
                             "ino": info.st_ino}).encode()
        with folders.folder(self.root, (METADATA, *parts[:-1]), create=True) as folder:
            temporary = self.temporary()
            try:
                with open(temporary, "xb") as handle:
                    handle.write(record)
                os.replace(temporary, parts[-1] + ".json", dst_dir_fd=folder)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)

    def forget(self, parts: tuple[str, ...]) -> None:
        """Remove the sidecar of a deleted file (nothing to do with extended attributes)."""
        if not self.xattrs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.sidecar(parts))
