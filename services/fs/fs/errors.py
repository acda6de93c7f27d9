"""The fs storage's failures, each one HTTP answer (raised by the volume, answered by the error handlers)."""
from __future__ import annotations

from hipflask.errors import HipflaskError
from hipflask.storage_errors import NoSpace  # noqa: F401  (the one 507, raised by fs too)


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

