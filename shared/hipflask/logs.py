"""Logging for a service: one line per record on stderr, with the service and the request id.

LOG_FORMAT=text (the default natively) writes readable lines; LOG_FORMAT=json (the default in
compose) writes one JSON object per line: time, level, service, hostname, logger, message, and
within a request request_id, method, route, namespace, and eid/status/duration when known. In
json mode the worker's gunicorn error log uses the same formatter, and with ACCESS_LOG set the
service logs one `request` line per request itself (gunicorn's own access log is then off).
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from flask import Flask, g, has_request_context, request

from hipflask.access import namespace

FORMAT = "%(asctime)s %(levelname)s %(service)s rid=%(request_id)s %(name)s: %(message)s"
FORMATS = ("text", "json")
_REQUEST_FIELDS = ("eid", "status", "duration")
_EID = re.compile(r"^eid=([0-9a-f]+) ")  # the error lines of hipflask.errors start with the error id


class _RequestContext(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = (request.headers.get("X-Request-ID", "-") if has_request_context() else "-")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, service: str, hostname: str):
        super().__init__()
        self.service = service
        self.hostname = hostname

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "hostname": self.hostname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            rule = request.url_rule
            entry.update(request_id=request.headers.get("X-Request-ID"), method=request.method,
                         route=rule.rule if rule is not None else None, namespace=_namespace_or_none(namespace))
        eid = _EID.match(entry["message"])
        if eid:
            entry["eid"] = eid.group(1)
        for field in _REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _namespace_or_none(namespace) -> str | None:
    try:
        return namespace()
    except Exception:  # a header the namespace rule refuses: the line is still written
        return None


class _Handler(logging.StreamHandler):
    hipflask = True  # marks the handler configure() replaces on its next call


def configure(service: str, level: str, log_format: str = "text", hostname: str = "") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "hipflask", False):
            root.removeHandler(handler)
    handler = _Handler(sys.stderr)
    if log_format == "json":
        formatter = JsonFormatter(service, hostname)
        handler.setFormatter(formatter)
        for gunicorn_handler in logging.getLogger("gunicorn.error").handlers:
            gunicorn_handler.setFormatter(formatter)
    else:
        handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_RequestContext(service))
    root.addHandler(handler)
    root.setLevel(level)


_requests = logging.getLogger("hipflask.request")


def init_app(app: Flask, log_requests: bool) -> None:
    """With `log_requests`, one `request` line per request (status and duration in milliseconds)."""
    if not log_requests:
        return

    @app.before_request
    def _started():
        g.hipflask_log_started = time.perf_counter()

    @app.after_request
    def _log(response):
        started = g.pop("hipflask_log_started", None)
        if started is not None:
            _requests.info("request", extra={"status": response.status_code,
                                             "duration": round((time.perf_counter() - started) * 1000, 3)})
        return response
