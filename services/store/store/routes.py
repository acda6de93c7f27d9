"""Routes of the store service: parse the request, call the store's storage, shape the response.

The storage contract (ids, timestamps, etags, merges) is in store.storage; the list conventions
(paging, sorting, filtering) are in store.query.
"""
from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

from flask import Blueprint, Response, request
from prometheus_client import Counter

from hipflask import conditional
from hipflask.access import namespace
from hipflask.convert import form_data, json_body
from hipflask.errors import HipflaskError
from hipflask.events import emit_local_event
from hipflask.jsonp import json_response, make_my_response_json

from store import query as list_query
from store.items import Written, parse_id, parse_ids
from store.relations import add_related
from store.storage import StoreStorage, current_store

blueprint = Blueprint("store", __name__)
MERGE_PATCH = "application/merge-patch+json"
PATCH_TYPES = (MERGE_PATCH, "application/json")


def _store() -> StoreStorage:
    return current_store()


def _fields() -> dict:
    """The item in the request: its JSON object body, or its converted query and form values."""
    if request.is_json:
        return json_body(dict)
    return form_data(exclude=("callback",))


ITEMS_WRITTEN = Counter("hipflask_store_items_written", "Items created or changed", ["service"])
ITEMS_DELETED = Counter("hipflask_store_items_deleted", "Items deleted", ["service"])


def _emit(action: str, name: str, **detail) -> None:
    """Every committed change passes here: counted, then emitted."""
    (ITEMS_DELETED if action == "delete" else ITEMS_WRITTEN).labels("store").inc()
    emit_local_event("store", {"action": action, "store_name": name, **detail})


def _emit_written(name: str, written: Written) -> None:
    _emit("add" if written.created else "update", name, id=written.item["id"], etag=written.etag, data=written.item)


def _written(name: str, written: Written) -> Response:
    _emit_written(name, written)
    response = json_response(written.item, 201 if written.created else 200)
    return conditional.set_etag(response, written.etag)


@blueprint.get("/store")
@make_my_response_json
def list_stores():
    """The namespace's stores that hold items, with their item counts, by name.

    :query callback: optional JSONP callback
    :statuscode 200: ``[{"name": "todos", "count": 3}, ...]`` (``[]`` when there are none)
    """
    return _store().stores(namespace())


@blueprint.get("/store/<name>")
@make_my_response_json
def list_items(name):
    """The items of a store, in id order unless sorted; ``[]`` for a store that does not exist.

    :query _limit, _offset: a page (also json-server's ``_start``/``_end`` and ``_page``/``_per_page``)
    :query _sort: ``a,-b`` sorts by ``a`` ascending then ``b`` descending (``_order=asc,desc`` also works)
    :query _since: only items updated after this time (epoch milliseconds)
    :query q: items with a string value (nested too) containing this text, ignoring case
    :query _embed: ``comments`` adds each item's ``comments`` (the items of store comments whose
        ``<singular>Id`` is its id)
    :query _expand: ``post`` adds each item's ``post`` (the item of store posts named by ``postId``)
    :query field: ``field=value`` keeps items whose field equals the value (dotted paths reach nested fields);
        also ``field_gte``, ``_lte``, ``_ne``, ``_like`` (regular expression) and
        ``field:eq|ne|lt|lte|gt|gte|in|contains|startsWith|endsWith``
    :query callback: optional JSONP callback
    :reqheader If-None-Match: the list's ETag; ``304`` when the list has not changed
    :resheader ETag: the list's version for this query
    :resheader X-Total-Count: how many items match before paging
    :resheader Link: ``<...>; rel="next"`` when there is a next page
    :statuscode 200: the items as a JSON array
    :statuscode 304: not modified since the ETag given in If-None-Match
    :statuscode 400: a bad store name or query parameter (an unknown operator, a bad regular expression)
    """
    query = list_query.parse(request.args)
    digest = hashlib.blake2b(request.query_string, digest_size=6).hexdigest()
    related = bool(query.embed or query.expand)

    def unchanged(version: str) -> bool:
        return conditional.is_current(f"{version}-{digest}")

    page = _store().list(namespace(), name, query,
                         unchanged if conditional.has_validators() and not related else None)
    etag = f"{page.version}-{digest}"
    if page.items is None:
        return conditional.not_modified(etag)
    body = "[" + ",".join(page.items) + "]"
    if related:
        items = [json.loads(text) for text in page.items]
        etag = _related_etag(etag, add_related(_store(), namespace(), name, items, query))
        if conditional.is_current(etag):
            return conditional.not_modified(etag)
        body = items
    response = json_response(body)
    response.headers["X-Total-Count"] = str(page.total)
    if query.limit is not None and query.offset + len(page.items) < page.total:
        next_page = urlencode(list_query.next_page(request.args, query))
        response.headers["Link"] = f'<{request.base_url}?{next_page}>; rel="next"'
    return conditional.set_etag(response, etag)


def _related_etag(etag: str, versions: list[str]) -> str:
    return f"{etag}-{hashlib.blake2b(' '.join(versions).encode(), digest_size=6).hexdigest()}"


@blueprint.post("/store/<name>")
@make_my_response_json
def append_item(name):
    """Append an item: the JSON object body, or the query and form values (numbers keep their type).

    :reqheader Content-Type: ``application/json`` (an object), or ``application/x-www-form-urlencoded`` values
    :query callback: optional JSONP callback
    :statuscode 200: ``{"id": <the new item's id>}``
    :statuscode 400: a bad store name, malformed JSON or a JSON body that is not an object
    :statuscode 413: the body is larger than MAX_BODY_SIZE
    """
    written = _store().append_written(namespace(), name, _fields())
    _emit_written(name, written)
    return {"id": written.item["id"]}


@blueprint.get("/store/<name>/<item_id>")
@make_my_response_json
def get_item(name, item_id):
    """One item with its id, created and updated.

    :query _embed: ``comments`` adds the item's ``comments`` (as for lists)
    :query _expand: ``post`` adds the item's ``post`` (as for lists)
    :query callback: optional JSONP callback (a missing item is then ``200`` with ``cb({});``)
    :reqheader If-None-Match: the item's ETag; ``304`` when it has not changed
    :resheader ETag: the item's version
    :statuscode 200: the item
    :statuscode 304: not modified since the ETag given in If-None-Match
    :statuscode 400: a bad store name or an id that is not an integer from 1 to 2**53-1
    :statuscode 404: no such item; the body is ``{}``
    """
    relations = list_query.relations(request.args)
    item = _store().get(namespace(), name, parse_id(item_id))
    if item is None:
        return {}, 404
    etag, body = item.etag, item.text
    if relations.embed or relations.expand:
        body = json.loads(item.text)
        etag = _related_etag(etag, add_related(_store(), namespace(), name, [body], relations))
    if conditional.is_current(etag):
        return conditional.not_modified(etag)
    return conditional.set_etag(json_response(body), etag)


@blueprint.post("/store/<name>/<item_id>")
@make_my_response_json
def merge_item(name, item_id):
    """Merge fields into an item (created with this id when missing); ``null`` or ``"null"`` removes a field.

    :reqheader Content-Type: ``application/json`` (an object), or ``application/x-www-form-urlencoded`` values
    :query callback: optional JSONP callback
    :reqheader If-Match: the item's ETag; ``412`` when the item changed meanwhile
    :statuscode 200: ``{}``
    :statuscode 400: a bad store name or id, malformed JSON or a JSON body that is not an object
    :statuscode 412: the item does not match If-Match
    :statuscode 413: the body is larger than MAX_BODY_SIZE
    """
    written = _store().merge(namespace(), name, parse_id(item_id), _fields(), if_match=conditional.if_match())
    _emit_written(name, written)
    return {}


@blueprint.patch("/store/<name>/<item_id>")
@make_my_response_json
def patch_item(name, item_id):
    """Apply a JSON Merge Patch (RFC 7396) to an item, creating it when missing: nested objects
    merge, ``null`` removes. ``application/json`` is taken as a merge patch too (HTTPie, json-server).

    :reqheader Content-Type: ``application/merge-patch+json`` or ``application/json``
    :reqheader If-Match: the item's ETag; ``412`` when the item changed meanwhile
    :query callback: optional JSONP callback
    :statuscode 200: the item as it is now, with its new ETag
    :statuscode 201: the item was created
    :statuscode 400: a bad store name or id, malformed JSON or a patch that is not an object
    :statuscode 412: the item does not match If-Match
    :statuscode 415: the body is neither ``application/merge-patch+json`` nor ``application/json``;
        ``Accept-Patch`` lists both
    """
    item_id = parse_id(item_id)
    if request.mimetype not in PATCH_TYPES:
        raise HipflaskError(415, "unsupported_media_type", f"PATCH takes {' or '.join(PATCH_TYPES)}",
                            headers={"Accept-Patch": ", ".join(PATCH_TYPES)})
    return _written(name, _store().merge(namespace(), name, item_id, json_body(dict), rfc7396=True,
                                         if_match=conditional.if_match()))


@blueprint.put("/store/<name>/<item_id>")
@make_my_response_json
def replace_item(name, item_id):
    """Replace an item whole (its ``created`` is kept), creating it when missing.

    :reqheader Content-Type: ``application/json`` (an object), or ``application/x-www-form-urlencoded`` values
    :query callback: optional JSONP callback
    :reqheader If-Match: the item's ETag; ``412`` when the item changed meanwhile
    :reqheader If-None-Match: ``*`` creates only; ``412`` when the item exists
    :statuscode 200: the item as it is now, with its new ETag
    :statuscode 201: the item was created
    :statuscode 400: a bad store name or id, malformed JSON or a JSON body that is not an object
    :statuscode 412: a precondition failed
    :statuscode 413: the body is larger than MAX_BODY_SIZE
    """
    return _written(name, _store().replace(namespace(), name, parse_id(item_id), _fields(),
                                           if_match=conditional.if_match(),
                                           create_only=conditional.if_none_match() == conditional.ANY))


@blueprint.delete("/store/<name>/<item_ids>")
@make_my_response_json
def delete_items(name, item_ids):
    """Delete one item or a comma-separated list of them; ids that do not exist are ignored.

    :query callback: optional JSONP callback
    :reqheader If-Match: the items' ETag; ``412`` (nothing deleted) unless every listed item matches
    :statuscode 200: ``{}``
    :statuscode 400: a bad store name or id
    :statuscode 412: a listed item does not match If-Match
    """
    for item_id in _store().delete(namespace(), name, parse_ids(item_ids), if_match=conditional.if_match()):
        _emit("delete", name, id=item_id)
    return {}
