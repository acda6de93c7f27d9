"""Routes of the kv service: `/kv/<key>` reads, writes and deletes values; `?keys` lists a prefix."""
from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime

from flask import Blueprint, Response, request
from prometheus_client import Counter
from werkzeug.http import http_date

from hipflask import conditional
from hipflask.access import namespace
from hipflask.convert import form_data
from hipflask.errors import HipflaskError
from hipflask.events import emit_local_event
from hipflask.jsonp import JSON_TYPE, dumps, json_response, jsonp_callback, wrap
from hipflask.state import state
from hipflask.user_content import protect

from kv.storage import Item, KVStorage, ValueTooLarge, check_key, current_store, is_json_type

blueprint = Blueprint("kv", __name__)
KEYS_WRITTEN = Counter("hipflask_kv_keys_written", "Values stored (created or replaced)", ["service"])
KEYS_DELETED = Counter("hipflask_kv_keys_deleted", "Values deleted", ["service"])

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
RAW_DEFAULT_TYPE = "application/octet-stream"
MISSING = {"message": "key not found"}
_POSITIVE = re.compile(r"[1-9][0-9]{0,9}")
# Keys are taken as sent: no redirect that merges `//` (a 308 a POST would have to follow).
# The `/kv/` rules have endpoints of their own so matching a key never checks them for redirects.
_KEY_ROUTE = {"merge_slashes": False}


def _store() -> KVStorage:
    return current_store()


def _positive(name: str, value: str, code: str) -> int:
    if not _POSITIVE.fullmatch(value.strip()):
        raise HipflaskError(400, code, f"{name} must be a positive whole number, got {value[:40]!r}")
    return int(value)


def _ttl() -> int | None:
    value = request.args.get("ttl")
    if value is None:
        value = request.headers.get("X-TTL")
    return None if value is None else _positive("ttl", value, code="bad_ttl")


def _fields() -> bytes:
    """A form or empty post: its converted query and form fields as JSON, without kv's own parameters
    (the JSONP callback, and the query's ttl)."""
    fields = form_data(exclude=("callback",))
    if "ttl" in request.args and "ttl" not in request.form:
        del fields["ttl"]
    return dumps(fields).encode()


def _body() -> tuple[bytes, str]:
    """The value and content type a POST or PUT stores."""
    limit = _store().max_value_size
    if request.content_length is not None and request.content_length > limit:
        raise ValueTooLarge(limit)
    if request.method == "POST" and request.mimetype in FORM_TYPES:
        return _fields(), JSON_TYPE
    value = request.get_data(cache=False)
    if request.method == "POST" and not value:
        return _fields(), JSON_TYPE
    return value, request.headers.get("Content-Type") or RAW_DEFAULT_TYPE


@functools.lru_cache(maxsize=4096)
def _http_date(epoch_ms: int) -> str:
    return http_date(epoch_ms // 1000)


def _validators(item: Item) -> dict[str, str]:
    headers = {"Last-Modified": _http_date(item.modified), "Cache-Control": "no-cache"}
    if item.expires is not None:
        headers["Expires"] = _http_date(item.expires)
    return headers


def _listing(prefix: str) -> Response:
    limit = request.args.get("limit")
    entries = _store().keys(namespace(), prefix, None if limit is None else _positive("limit", limit, code="bad_limit"))
    return json_response([entry._asdict() for entry in entries])


@blueprint.get("/kv", endpoint="read_bare", defaults={"key": ""})
@blueprint.get("/kv/", endpoint="read_root", defaults={"key": ""})
@blueprint.get("/kv/<path:key>", **_KEY_ROUTE)
def read(key: str):
    """The value stored under ``key``, byte for byte with its stored ``Content-Type``.

    With ``?keys``, the keys that start with ``key`` instead (``/kv/?keys``: every key), as a JSON
    list of ``{key, content_type, size, etag, modified, expires}`` sorted by key (times in epoch
    milliseconds).

    :query callback: optional JSONP callback: ``cb(<value>);`` (a value that is not JSON comes as a JSON string)
    :query keys: list the keys under the prefix ``key`` instead of reading a value
    :query limit: with ``keys``, at most this many keys
    :reqheader If-None-Match: an ETag (or ``*``): 304 when it matches
    :reqheader If-Modified-Since: 304 when the value has not changed since
    :reqheader Uid: the namespace (``DEFAULT`` when absent)
    :statuscode 200: the value (or, under JSONP, the value or ``{"message": ...}``), or the key listing
    :statuscode 304: the client's copy is current
    :statuscode 400: a bad key, callback or limit
    :statuscode 404: no value under the key: ``{"message": "key not found"}``
    """
    args = request.args
    if "keys" in args:
        return _listing(key)
    callback = jsonp_callback() if "callback" in args else None
    item = _store().get(namespace(), key)
    if item is None:
        return json_response(MISSING, 404)
    if callback is not None:
        text = item.value if is_json_type(item.content_type) else dumps(item.value.decode("utf-8", "replace"))
        return wrap(callback, text)
    headers = _validators(item)
    if conditional.is_current(item.etag, datetime.fromtimestamp(item.modified / 1000, UTC)):
        return conditional.not_modified(item.etag, headers)
    response = conditional.set_etag(Response(item.value, headers=headers, content_type=item.content_type), item.etag)
    return protect(response, name=key.rpartition("/")[2], content_type=item.content_type)


@blueprint.route("/kv/", endpoint="write_root", defaults={"key": ""}, methods=["POST", "PUT"])
@blueprint.route("/kv/<path:key>", methods=["POST", "PUT"], **_KEY_ROUTE)
def write(key: str):
    """Store the request's body under ``key`` with the request's ``Content-Type``.

    POST stores a form post (url-encoded or multipart) or an empty post as a JSON object of the
    converted fields (``application/json``); PUT always stores the raw body. A body without a
    ``Content-Type`` is ``application/octet-stream``; a body declared JSON must be valid JSON.

    :query ttl: optional time to live in seconds, after which the key reads as missing
    :query callback: optional JSONP callback for the answer
    :reqheader X-TTL: the time to live, when ``ttl`` is not given
    :reqheader If-Match: write only if the current value has this ETag (``*``: if there is a value)
    :reqheader If-None-Match: ``*``: write only if there is no value
    :reqheader Uid: the namespace (``DEFAULT`` when absent)
    :resheader ETag: the new value's ETag
    :statuscode 200: stored: ``{"message": "ok"}``
    :statuscode 400: a bad key, ttl or callback, or invalid JSON under a JSON content type; nothing stored
    :statuscode 412: a condition failed; nothing stored
    :statuscode 413: the value is larger than KV_MAX_VALUE_SIZE; nothing stored
    """
    jsonp_callback()
    check_key(key)
    ttl = _ttl()
    value, content_type = _body()
    item = _store().put(namespace(), key, value, content_type, ttl=ttl,
                        if_match=conditional.if_match(), if_none_match=conditional.if_none_match())
    KEYS_WRITTEN.labels("kv").inc()
    emit_local_event("kv", _set_event(key, item, value))
    return conditional.set_etag(json_response({"message": "ok"}), item.etag)


def _set_event(key: str, item: Item, value: bytes) -> dict:
    """The kv.set event: the key, its ETag, type and size, and a JSON value when it is small enough to inline."""
    event = {"action": "set", "key": key, "etag": item.etag, "content_type": item.content_type, "size": len(value)}
    if is_json_type(item.content_type) and len(value) <= state().settings.events_max_value_bytes:
        try:
            event["value"] = json.loads(value)
        except ValueError:  # stored as sent; the event names it without the value
            pass
    return event


@blueprint.delete("/kv/", endpoint="delete_root", defaults={"key": ""})
@blueprint.delete("/kv/<path:key>", **_KEY_ROUTE)
def delete(key: str):
    """Remove the value stored under ``key``.

    :query callback: optional JSONP callback for the answer
    :reqheader If-Match: delete only if the current value has this ETag
    :reqheader Uid: the namespace (``DEFAULT`` when absent)
    :statuscode 200: removed: ``{"message": "ok"}``
    :statuscode 400: a bad key or callback
    :statuscode 404: no value under the key: ``{"message": "key not found"}``
    :statuscode 412: If-Match does not match; nothing removed
    """
    jsonp_callback()
    if not _store().delete(namespace(), key, if_match=conditional.if_match()):
        return json_response(MISSING, 404)
    KEYS_DELETED.labels("kv").inc()
    emit_local_event("kv", {"action": "delete", "key": key})
    return json_response({"message": "ok"})
