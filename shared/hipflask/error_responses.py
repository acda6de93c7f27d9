"""The handlers that answer errors, and `error_response`, the one writer of an error body.

Errors hipflask adds answer JSON `{"status", "code", "message", "eid"}`; the eid is also in the
log line. Unhandled exceptions answer 500 with a fresh eid, as JSON when the request asks for
JSON (content type or Accept), as an HTML page otherwise. The original's historical bodies
(`{}`, `{"message": ...}`) are produced by the views that the contract fixes, not here.
"""
from __future__ import annotations

import html
import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response as BaseResponse

from hipflask import jsonp
from hipflask.error_codes import ERROR_CODES
from hipflask.errors import HipflaskError, new_eid
from hipflask.storage_errors import as_no_space

log = logging.getLogger("hipflask.errors")


def error_response(status: int, code: str, message: str, eid: str | None = None, headers: dict | None = None,
                   extra: dict | None = None, *, page: bool = False) -> Response:
    """The one error body: JSON in the one shape, JSONP (a 404 becoming 200) when the request
    carries a safe callback, or with `page` a short HTML page for a browser. Without an `eid`
    the error gets a fresh one, written to the log."""
    if eid is None:
        eid = new_eid()
        log.info("eid=%s %s %s: %s %s", eid, request.method, request.path, status, message)
    if code not in ERROR_CODES:
        log.warning("error code %r is not listed in hipflask.error_codes", code)
    if page:
        phrase = HTTP_STATUS_CODES.get(status, "Error")
        body = (f"<!doctype html><title>{status} {phrase}</title><h1>{phrase}</h1>"
                f"<p>{html.escape(message)}</p><p>Error id: <code>{html.escape(eid)}</code></p>\n")
        response = Response(body, status=status, mimetype="text/html", headers=headers)
        response.headers["Cache-Control"] = "no-cache"
        return response
    text = json.dumps({"status": status, "code": code, "message": message, "eid": eid, **(extra or {})})
    callback = jsonp.safe_callback_or_none() if request else None
    if callback is not None:
        return jsonp.wrap(callback, text, status, headers)
    response = Response(text + "\n", status=status, mimetype=jsonp.JSON_TYPE, headers=headers)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _code_for(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def _on_hipflask_error(exc: HipflaskError) -> Response:
    eid = new_eid()
    log.info("eid=%s %s %s: %s %s", eid, request.method, request.path, exc.status, exc.message)
    return error_response(exc.status, exc.code, exc.message, eid, exc.headers, exc.extra)


def _on_http_exception(exc: HTTPException) -> BaseResponse:
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
    no_space = as_no_space(exc)
    if no_space is not None:
        log.warning("%s %s: the volume is full (%s)", request.method, request.path, exc)
        return _on_hipflask_error(no_space)
    eid = new_eid()
    log.error("eid=%s unhandled error on %s %s", eid, request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error", eid, page=not jsonp.wants_json())


def init_app(app: Flask) -> None:
    app.register_error_handler(HipflaskError, _on_hipflask_error)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(Exception, _on_unhandled)
