"""Conditional requests, one way for every service (RFC 9110, section 13).

`if_match()` and `if_none_match()` read the request's headers as Werkzeug parses them into a
set of ETags, `ANY` for `*`, None when the header is absent; a header sent blank matches no ETag.
`check()` is the one precondition test a storage runs inside its write and `PreconditionFailed`
the one 412; `set_etag()` is the one way an ETag reaches a response (strong, quoted), and
`is_current()` / `not_modified()` answer a client whose copy is current with a 304.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from flask import Response, request
from werkzeug.http import is_resource_modified

from hipflask.errors import HipflaskError

ANY: frozenset[str] = frozenset({"*"})


class PreconditionFailed(HipflaskError):
    def __init__(self, message: str = "the current ETag does not match If-Match / If-None-Match"):
        super().__init__(412, "precondition_failed", message)


def if_match() -> frozenset[str] | None:
    """The strong ETags of If-Match (RFC 9110 compares them strongly), ANY for `*`, None when absent."""
    if "HTTP_IF_MATCH" not in request.environ:
        return None
    etags = request.if_match
    return ANY if etags.star_tag else frozenset(etags.as_set())


def if_none_match() -> frozenset[str] | None:
    """The ETags of If-None-Match, weak ones included (compared weakly), ANY for `*`, None when absent."""
    if "HTTP_IF_NONE_MATCH" not in request.environ:
        return None
    etags = request.if_none_match
    return ANY if etags.star_tag else frozenset(etags.as_set(include_weak=True))


def check(current: str | None, if_match: Collection[str] | None = None,
          if_none_match: Collection[str] | None = None, what: str = "the resource") -> None:
    """PreconditionFailed unless `current` (the ETag stored now, None when nothing is) passes both."""
    if if_match is not None and (current is None or ("*" not in if_match and current not in if_match)):
        raise PreconditionFailed(f"If-Match: {what}'s current ETag does not match" if current is not None
                                 else f"If-Match: {what} does not exist")
    if if_none_match is not None and current is not None and ("*" in if_none_match or current in if_none_match):
        raise PreconditionFailed(f"If-None-Match: {what} exists" if "*" in if_none_match
                                 else f"If-None-Match: {what}'s current ETag matches")


def set_etag(response: Response, etag: str) -> Response:
    """Give `response` the strong ETag `etag` (quoted as HTTP wants it)."""
    response.set_etag(etag)
    return response


def has_validators() -> bool:
    """The request asks whether its copy is current (If-None-Match or If-Modified-Since)."""
    environ = request.environ
    return "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ


def is_current(etag: str, last_modified: datetime | None = None) -> bool:
    """The client's copy, named by If-None-Match (weak comparison) or If-Modified-Since, is this one."""
    return has_validators() and not is_resource_modified(request.environ, etag=etag, last_modified=last_modified)


def not_modified(etag: str, headers: Mapping[str, str] | None = None) -> Response:
    """The 304 for a client whose copy is current: no body, the ETag and `headers`, never cached unchecked."""
    response = Response(status=304, headers=dict(headers or {}))
    response.headers["Cache-Control"] = "no-cache"
    return set_etag(response, etag)
