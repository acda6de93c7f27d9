"""The error hipflask views raise, and the error id that ties a response to its log line.

This module is a leaf: it imports nothing from hipflask. The handlers that turn an error into
a response, and the one function that writes an error body, are in `hipflask.error_responses`;
every machine `code` is listed with its status and meaning in `hipflask.error_codes`.
"""
from __future__ import annotations

import uuid


class HipflaskError(Exception):
    """Raise from a view to answer `status` with the one error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def new_eid() -> str:
    return uuid.uuid4().hex[:16]
