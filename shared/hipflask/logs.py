"""Logging for a service: one line per record on stderr, with the service and the request id."""
from __future__ import annotations

import logging
import sys

from flask import has_request_context, request

FORMAT = "%(asctime)s %(levelname)s %(service)s rid=%(request_id)s %(name)s: %(message)s"


class _RequestContext(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = (request.headers.get("X-Request-ID", "-") if has_request_context() else "-")
        return True


def configure(service: str, level: str) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "hipflask", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.hipflask = True
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_RequestContext(service))
    root.addHandler(handler)
    root.setLevel(level)
