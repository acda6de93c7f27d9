"""The one response cache: `cache_my_response`, backed by Redis so every replica shares it.

The key is the service, the request's path and query, its namespace, and the values of the
`vary_by` parameters (query or form). `_reload_cache` in the request forces a fresh response.
A response served from the cache carries `Expires` (the cached item's expiry). Only GET and HEAD
are cached, and only 2xx/3xx/404 responses. When Redis is unreachable the view runs uncached.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate

from flask import current_app, json, make_response, request
from prometheus_client import Counter

from hipflask.access import namespace
from hipflask.state import state

PREFIX = "hipflask:cache:"
LOOKUPS = Counter("hipflask_cache_lookups", "Response cache lookups: hit, miss (includes Redis down)",
                  ["service", "result"])
_SKIPPED_HEADERS = {"content-length", "x-hostname", "x-app-version", "x-request-id", "x-cache"}


def _key(vary_by: Iterable[str], version: str) -> str:
    values = request.values
    varied = [(name, values.getlist(name)) for name in vary_by]
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "_reload_cache"]
    raw = json.dumps([state().settings.service, request.path, args,
                      namespace(), varied, version], sort_keys=False)
    return PREFIX + hashlib.sha256(raw.encode()).hexdigest()


def _cacheable(status: int) -> bool:
    return 200 <= status < 400 or status == 404


def cache_my_response(vary_by: Iterable[str] | None = None, expiration_seconds: int = 900,
                      version: Callable[..., str] | None = None) -> Callable:
    """Cache a view's whole response (body, status, headers) in Redis for `expiration_seconds`.

    `version(**view_args)`, when given, returns a string that changes whenever the view's output
    would (a template's modification time, say); it is part of the key.
    """
    vary = tuple(vary_by or ())

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if request.method not in ("GET", "HEAD"):
                return view(*args, **kwargs)
            backplane = state().backplane
            key = _key(vary, version(**kwargs) if version else "")
            if "_reload_cache" not in request.values:
                cached = backplane.call("cache", lambda client: client.get(key))
                LOOKUPS.labels(state().settings.service, "miss" if cached is None else "hit").inc()
                if cached is not None:
                    entry = json.loads(cached)
                    response = current_app.response_class(
                        base64.b64decode(entry["b"]), status=entry["s"], headers=entry["h"])
                    response.headers["Expires"] = formatdate(entry["e"], usegmt=True)
                    response.headers["X-Cache"] = "HIT"
                    return response
            response = make_response(view(*args, **kwargs))
            if _cacheable(response.status_code) and not response.is_streamed:
                expires = time.time() + expiration_seconds
                entry = json.dumps({
                    "s": response.status_code,
                    "h": [(k, v) for k, v in response.headers.items() if k.lower() not in _SKIPPED_HEADERS],
                    "b": base64.b64encode(response.get_data()).decode(),
                    "e": expires,
                })
                backplane.call("cache", lambda client: client.set(key, entry, ex=expiration_seconds))
                response.headers["X-Cache"] = "MISS"
            return response

        return wrapper

    return decorate
