"""The one error shape hipflask adds, and the handlers that produce it.

Errors hipflask adds answer JSON `{"status", "code", "message", "eid"}`; the eid is also in the
log line. Unhandled exceptions answer 500 with a fresh eid, as JSON when the request asks for
JSON (content type or Accept), as an HTML page otherwise. The original's historical bodies
(`{}`, `{"message": ...}`) are produced by the views that the contract fixes, not here.
"""
from __future__ import annotations

import html
import logging
import uuid

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("hipflask.errors")


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


def error_response(status: int, code: str, message: str, eid: str | None = None, headers: dict | None = None,
                   extra: dict | None = None) -> Response:
    """The one error shape; as JSONP (a 404 becoming 200) when the request carries a safe callback."""
    from hipflask import jsonp  # jsonp raises HipflaskError: imported here to keep the modules acyclic

    body = json.dumps({"status": status, "code": code, "message": message, "eid": eid or new_eid(), **(extra or {})})
    callback = jsonp.safe_callback_or_none() if request else None
    if callback is not None:
        return jsonp.wrap(callback, body, status, headers)
    response = Response(body + "\n", status=status, mimetype="application/json", headers=headers)
    response.headers["Cache-Control"] = "no-cache"
    return response


def wants_json() -> bool:
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _code_for(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def _on_hipflask_error(exc: HipflaskError) -> Response:
    eid = new_eid()
    log.info("eid=%s %s %s: %s %s", eid, request.method, request.path, exc.status, exc.message)
    return error_response(exc.status, exc.code, exc.message, eid, exc.headers, exc.extra)


def _on_http_exception(exc: HTTPException) -> Response:
    if exc.code is None or exc.code < 400:
        return exc.get_response()
    eid = new_eid()
    log.info("eid=%s %s %s: %s %s", eid, request.method, request.path, exc.code, exc.description)
    response = error_response(exc.code, _code_for(exc), exc.description or exc.name, eid)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _on_unhandled(exc: Exception) -> Response:
    from hipflask.storage_errors import as_no_space  # storage_errors raises HipflaskError: acyclic

    no_space = as_no_space(exc)
    if no_space is not None:
        log.warning("%s %s: the volume is full (%s)", request.method, request.path, exc)
        return _on_hipflask_error(no_space)
    eid = new_eid()
    log.error("eid=%s unhandled error on %s %s", eid, request.method, request.path, exc_info=exc)
    if wants_json():
        response = Response(json.dumps({"eid": eid, "status": 500, "code": "internal_error",
                                        "message": "internal server error"}) + "\n",
                            status=500, mimetype="application/json")
    else:
        page = (f"<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>"
                f"<p>Something went wrong. Error id: <code>{html.escape(eid)}</code></p>\n")
        response = Response(page, status=500, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(HipflaskError, _on_hipflask_error)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(Exception, _on_unhandled)
