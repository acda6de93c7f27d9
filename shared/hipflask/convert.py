"""The one converter of request data: form and query values as the original converted them.

Numeric strings become int or float (`"0"` included), single-element lists are flattened, and
nested dicts and lists are converted the same way.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import request
from werkzeug.datastructures import MultiDict

from hipflask import json_depth
from hipflask.errors import HipflaskError

_INT = re.compile(r"-?\d+", re.ASCII)
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", re.ASCII)


def convert_value(value: Any) -> Any:
    """A str that is a number becomes that number; containers are converted recursively."""
    if isinstance(value, str):
        if _INT.fullmatch(value):
            try:
                return int(value)
            except ValueError:  # more digits than Python converts
                return value
        if _FLOAT.fullmatch(value):
            number = float(value)
            return number if number not in (float("inf"), float("-inf")) else value
        return value
    if isinstance(value, dict):
        return {key: convert_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [convert_value(item) for item in value]
        return items[0] if len(items) == 1 else items
    return value


def convert_multidict(data: MultiDict) -> dict[str, Any]:
    """Every key of a form or query MultiDict, its values converted and flattened."""
    return {key: convert_value(values) for key, values in data.lists()}


def form_data(exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The request's query and form values (form wins on a shared key), converted, without the
    parameters named in `exclude` (a route's own, such as the JSONP `callback`)."""
    data = convert_multidict(request.args)
    if request.content_type:  # without a body type werkzeug only builds an empty form
        data.update(convert_multidict(request.form))
    for name in exclude:
        data.pop(name, None)
    return data


def json_body(required_type: type | None = None) -> Any:
    """The request's JSON body; 400 in the one error shape when it is malformed, nested deeper
    than MAX_JSON_DEPTH, or of the wrong type."""
    raw = request.get_data(cache=True)
    value = None
    if raw:
        try:
            value = json_depth.loads(raw, json_depth.limit())
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            raise HipflaskError(400, "bad_json", "the body is not valid JSON") from None
    if required_type is not None and not isinstance(value, required_type):
        kind = "an object" if required_type is dict else "a " + required_type.__name__
        raise HipflaskError(400, "bad_json", f"the JSON body must be {kind}")
    return value


def request_data() -> Any:
    """The JSON body when the request declares JSON, otherwise the converted query and form values."""
    if request.is_json:
        return json_body()
    return form_data()
