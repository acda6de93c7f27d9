"""Whole request bodies or nothing: the one guard every service's request bodies pass through.

gunicorn ends a body silently when the client disconnects early: its Content-Length reader
returns fewer bytes than declared, then nothing, and its chunked reader raises NoMoreData (an
OSError) or a parse error. Werkzeug takes either for the end of the body. `WholeBody` wraps
`wsgi.input` and raises `IncompleteBody` (400 `incomplete_body`, logged) at the first read that
shows the body ended short or broke off, so whatever was reading it (a JSON parser, the
multipart parser, a copy into a temporary file) stops with an error and nothing is written.
The client is usually gone by then: the status is for the log.
"""
from __future__ import annotations

import logging

from flask import Flask

from hipflask.errors import HipflaskError

log = logging.getLogger("hipflask.bodies")


class IncompleteBody(HipflaskError):
    def __init__(self, message: str):
        super().__init__(400, "incomplete_body", message)


class WholeBody:
    """A request body stream that raises IncompleteBody instead of ending early.

    `declared` is the Content-Length (None for a chunked body, whose end gunicorn checks).
    """

    def __init__(self, stream, declared: int | None, where: str):
        self._stream = stream
        self._declared = declared
        self._where = where
        self.received = 0
        self._failure: IncompleteBody | None = None

    def _broken(self, detail: str) -> IncompleteBody:
        if self._failure is not None:  # a reader that tries again after the error: logged once
            return self._failure
        expected = f"of {self._declared} declared bytes" if self._declared is not None else "(chunked)"
        message = f"the request body ended after {self.received} bytes {expected}: {detail}; nothing was stored"
        log.warning("%s: %s", self._where, message)
        self._failure = IncompleteBody(message)
        return self._failure

    def _counted(self, data: bytes, to_the_end: bool) -> bytes:
        """Count `data`; an empty read (or a read to the end) short of the declared length means
        the client stopped sending."""
        self.received += len(data)
        if self._declared is not None and self.received < self._declared and (to_the_end or not data):
            raise self._broken("the client stopped sending")
        return data

    def _call(self, method, size: int | None) -> bytes:
        try:
            return method() if size is None or size < 0 else method(size)
        except HipflaskError:
            raise
        except Exception as exc:  # gunicorn's NoMoreData, a chunk parse error, a reset socket
            raise self._broken(type(exc).__name__) from exc

    def read(self, size: int | None = -1) -> bytes:
        if size == 0:
            return b""
        return self._counted(self._call(self._stream.read, size), size is None or size < 0)

    def readline(self, size: int | None = -1) -> bytes:
        if size == 0:
            return b""
        return self._counted(self._call(self._stream.readline, size), False)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = []
        while line := self.readline():
            lines.append(line)
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


def _declared_length(environ) -> int | None:
    value = environ.get("CONTENT_LENGTH")
    try:
        return int(value) if value else None
    except ValueError:
        return None


class WholeBodyMiddleware:
    """WSGI middleware: every request with a body reads it through WholeBody."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        declared = _declared_length(environ)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if (declared or chunked) and "wsgi.input" in environ:
            where = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
            environ["wsgi.input"] = WholeBody(environ["wsgi.input"], None if chunked else declared, where)
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    app.wsgi_app = WholeBodyMiddleware(app.wsgi_app)  # type: ignore[method-assign]
