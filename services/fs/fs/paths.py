"""What a path, a partition or a file name may be: the rules that keep every request inside the volume.

A `/fs` path is a sequence of plain names separated by single slashes. A name is refused when it
is empty, `.` or `..`, holds a backslash, a NUL or another control character, or is longer than a
file system allows. A request whose raw URI percent-encodes a dot, a slash, a backslash or a NUL
is refused before routing, so no decoding step can smuggle a separator past these rules.
Uploaded file names are never trusted: they are rewritten to a safe ASCII name.

Each check returns its value marked as checked (`Name`, `FsPath`, `Partition`), and a checked
value passes again without work: a route checks early (before reading a body) and the volume,
which checks whatever it is given, does not check the same value twice.
"""
from __future__ import annotations

import re

from werkzeug.utils import secure_filename

from hipflask.errors import HipflaskError

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 2048
PARTITION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
RESERVED_PARTITIONS = frozenset({
    "list", "dl", "fs", "store", "kv", "render", "template", "raw_template", "diagnostic", "echo",
    "hello", "message", "auth", "static", "_hipflask", "_fs_files", "_fs_s3", "_gateway",
})
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")
_ENCODED_SEPARATORS = re.compile(r"%(?:2e|2f|5c|00)", re.IGNORECASE)


class Name(str):
    """A file or folder name that passed `name`."""


class FsPath(tuple):
    """The names of a `/fs` path that passed `fs_path`."""


class Partition(str):
    """A partition name that passed `partition`."""


class BadPath(HipflaskError):
    """A path or a name that could leave the volume, or that no file may have: 400."""

    def __init__(self, message: str, code: str = "bad_path"):
        super().__init__(400, code, message)


def name(value: str) -> Name:
    """`value` when it is one plain file or folder name, else BadPath."""
    if isinstance(value, Name):
        return value
    if value in ("", ".", ".."):
        raise BadPath(f"{value!r} is not a file name")
    if _UNSAFE_CHARACTERS.search(value):
        raise BadPath("a name may not hold backslashes, NUL or other control characters")
    if len(value.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise BadPath(f"a name may be at most {MAX_NAME_BYTES} bytes long")
    return Name(value)


def namespace_folder(value: str) -> str:
    """`value` when it may name a namespace's own folder (token mode: one plain name), else BadPath."""
    if "/" in value:
        raise BadPath("a namespace folder is one name")
    return name(value)


def fs_path(path: str | FsPath) -> FsPath:
    """The names of a relative `/fs` path (`a/b.txt` -> `("a", "b.txt")`), else BadPath.

    Absolute paths, empty segments (`a//b`, a trailing slash), `.` and `..` are refused.
    """
    if isinstance(path, FsPath):
        return path
    if path.startswith("/"):
        raise BadPath("absolute paths are refused")
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise BadPath(f"a path may be at most {MAX_PATH_BYTES} bytes long")
    return FsPath(name(part) for part in path.split("/"))


def partition(value: str) -> Partition:
    """`value` when it may name an uploader partition, else BadPath."""
    if isinstance(value, Partition):
        return value
    if not PARTITION.fullmatch(value):
        raise BadPath("a partition name is 1 to 128 letters, digits, '_', '.' or '-', "
                      "starting with a letter or a digit", code="bad_partition")
    if value.lower() in RESERVED_PARTITIONS:
        raise BadPath(f"{value!r} is reserved and cannot name a partition", code="reserved_partition")
    return Partition(value)


def upload_name(filename: str | None) -> Name:
    """The safe name an uploaded file is stored under (`../../a b.txt` -> `a_b.txt`), else BadPath."""
    safe = secure_filename(filename or "")
    if not safe:
        raise BadPath("the uploaded file needs a name made of ASCII letters, digits, '_', '.' or '-'",
                      code="bad_filename")
    if len(safe) > MAX_NAME_BYTES:
        stem, dot, extension = safe.rpartition(".")
        suffix = dot + extension if stem and len(extension) <= 16 else ""
        safe = safe[:len(safe) - len(suffix)][:MAX_NAME_BYTES - len(suffix)] + suffix
    return Name(safe)


def check_request(raw_uri: str | None, path: str) -> None:
    """Refuse a request whose path could escape the volume, before any route sees it.

    `raw_uri` is the request line's target as the client sent it (None when the server does not
    say), `path` the decoded path.
    """
    if raw_uri is not None and _ENCODED_SEPARATORS.search(raw_uri.split("?", 1)[0]):
        raise BadPath("percent-encoded dots, slashes, backslashes and NUL are refused in paths")
    if _UNSAFE_CHARACTERS.search(path):
        raise BadPath("a path may not hold backslashes, NUL or other control characters")
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments) or "//" in path:
        raise BadPath("'.', '..' and empty segments are refused in paths")
