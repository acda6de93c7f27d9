"""The factory's before/after_request hooks as one of each, and a Flask that checks a function for
`async def` once instead of at every call.

Flask calls `ensure_sync(hook)` for every hook and view of every request (an `inspect` check each
time) and looks each hook list up per blueprint. hipflask's own hooks (access, metrics, page and
identity headers, request logs) are plain functions: `fuse()` replaces the ones registered so far
with one before_request and one after_request that run them in Flask's order (before: as
registered, stopping at the first that answers; after: reversed). Hooks registered later (a
service's `init`, user handlers) are Flask's as usual and run around the fused ones as they would
around the originals.

`EveryResponseHeaders` adds fixed headers (X-HOSTNAME, X-APP-VERSION) to every response where it
is handed to the server: a list extension instead of two `Headers.__setitem__` per request.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.datastructures import Headers


class App(Flask):
    """Flask, remembering which functions are plain (`def`) so a request does not inspect them again."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._plain: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if func in self._plain:
            return func
        result = super().ensure_sync(func)
        if result is func:
            self._plain.add(func)
        return result


def fuse(app: Flask) -> None:
    """One app-wide before_request and one after_request in place of those registered so far."""
    befores = tuple(app.before_request_funcs.get(None, ()))
    if len(befores) > 1:
        def before_request():
            for hook in befores:
                answer = hook()
                if answer is not None:
                    return answer
            return None
        app.before_request_funcs[None] = [before_request]
    afters = tuple(reversed(app.after_request_funcs.get(None, ())))
    if len(afters) > 1:
        def after_request(response):
            for hook in afters:
                response = hook(response)
            return response
        app.after_request_funcs[None] = [after_request]


class EveryResponseHeaders:
    """WSGI middleware: `headers` (fixed name/value pairs, checked once here) on every response."""

    def __init__(self, wsgi_app: Callable, headers: list[tuple[str, str]]):
        self.wsgi_app = wsgi_app
        self.headers = Headers(headers).to_wsgi_list()  # refuses a value with a line break, as Flask would

    def __call__(self, environ, start_response):
        added = self.headers

        def start(status, headers, exc_info=None):
            headers.extend(added)
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, start)
