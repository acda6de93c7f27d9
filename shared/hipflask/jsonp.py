"""The one JSON/JSONP implementation: `make_my_response_json` and the JSONP wrapping it uses.

A `callback` request parameter turns a response into JSONP, exactly `cb(<json>);` with
`application/javascript`; a 404 becomes a 200 under JSONP so that a browser's script tag still
runs. A callback that is not a plain JavaScript identifier path gets a 400 and is never echoed.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from flask import Response, json, request

from hipflask.errors import HipflaskError

_CALLBACK = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", re.ASCII)
MAX_CALLBACK_LENGTH = 128
JSON_TYPE = "application/json"
JSONP_TYPE = "application/javascript"


def _requested_callback() -> str | None:
    args = request.args
    callback = args.get("callback") if "callback" in args else None  # a miss of get() raises inside Werkzeug
    if callback is None and request.method == "POST" and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        callback = request.form.get("callback")
    return callback


def is_safe_callback(callback: str) -> bool:
    return len(callback) <= MAX_CALLBACK_LENGTH and _CALLBACK.fullmatch(callback) is not None


def safe_callback_or_none() -> str | None:
    """The request's callback when it is present and safe, else None (never raises)."""
    try:
        callback = _requested_callback()
    except Exception:  # an unreadable form: no callback
        return None
    return callback if callback is not None and is_safe_callback(callback) else None


def jsonp_callback() -> str | None:
    """The request's JSONP callback, None when absent; a HipflaskError(400) when it is not safe."""
    callback = _requested_callback()
    if callback is None:
        return None
    if not is_safe_callback(callback):
        raise HipflaskError(400, "bad_callback",
                            "callback must be a JavaScript identifier path (letters, digits, _, $ and dots)")
    return callback


def wrap(callback: str, json_text: str | bytes, status: int = 200, headers: Any = None) -> Response:
    """`callback(<json_text>);` as application/javascript; a 404 status becomes 200."""
    if isinstance(json_text, bytes):
        json_text = json_text.decode("utf-8", "replace")
    body = f"{callback}({json_text.strip()});"
    response = Response(body, status=200 if status == 404 else status, headers=headers, mimetype=JSONP_TYPE)
    response.headers["Cache-Control"] = "no-cache"
    return response


def wants_json() -> bool:
    """The request asks for JSON: a JSON body, or an Accept preferring JSON over HTML."""
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match([JSON_TYPE, "text/html"])
    return best == JSON_TYPE and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def dumps(value: Any) -> str:
    """Compact JSON text in the key order the view gave."""
    return json.dumps(value, separators=(",", ":"))


def to_json_text(value: Any) -> tuple[str, int]:
    """The original's conversion of a view's result to (JSON text, status)."""
    status = 200
    if value is None:
        return "{}", status
    if isinstance(value, bool):
        raise TypeError("a view decorated with make_my_response_json returned a bool")
    if isinstance(value, int):
        return "{}", value
    if isinstance(value, dict):
        if "status_code" in value:
            value = dict(value)
            status = int(value.pop("status_code"))
        return dumps(value), status
    if isinstance(value, (list, tuple)):
        return dumps(list(value)), status
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value, status
    raise TypeError(f"a view decorated with make_my_response_json returned {type(value).__name__}")


def json_response(value: Any, status: int | None = None, headers: Any = None) -> Response:
    """A view result as JSON, or as JSONP when the request carries a callback."""
    callback = jsonp_callback()
    text, derived = to_json_text(value)
    status = derived if status is None else status
    if callback is not None:
        return wrap(callback, text, status, headers)
    response = Response(text + "\n", status=status, headers=headers, mimetype=JSON_TYPE)
    response.headers["Cache-Control"] = "no-cache"
    return response


def make_my_response_json(view: Callable) -> Callable:
    """Decorate a view so its result is sent as JSON (or JSONP), as the original did.

    The view may return a dict (a `status_code` key sets the status), a list, an int (a status
    with `{}`), a str (JSON text), None (`{}`), a Response (sent as is) or a tuple
    `(value, status)` / `(value, status, headers)`.
    """
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        jsonp_callback()  # refuse a bad callback before the view does any work
        result = view(*args, **kwargs)
        if isinstance(result, Response):
            return result
        status = headers = None
        if isinstance(result, tuple):
            result, status, *rest = result
            headers = rest[0] if rest else None
        return json_response(result, status, headers)

    return wrapper
