"""The rules of store items, whatever keeps them: names, ids, the kept fields, merges, preconditions.

- Store names are `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`; ids are integers from 1 to 2**53-1 (exact
  in JavaScript). Anything else is a HipflaskError(400).
- An item is the client's JSON object plus `id`, `created` and `updated` (epoch milliseconds,
  kept by the store; client values for these three keys are ignored).
- `if_match` (a set of etags, `*` for any) is checked by `check_preconditions` (hipflask.conditional's
  one check): a mismatch raises PreconditionFailed (412).
"""
from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, NamedTuple

from hipflask.conditional import ANY, check
from hipflask.errors import HipflaskError

MAX_ID = 2**53 - 1
MAX_IDS_PER_DELETE = 1000
KEPT = ("id", "created", "updated")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ID = re.compile(r"[0-9]{1,16}")


class Item(NamedTuple):
    """A stored item as its JSON text, and its etag."""

    text: str
    etag: str


class Written(NamedTuple):
    """The outcome of a write: the item as it is now, its new etag, whether the write created it."""

    item: dict
    etag: str
    created: bool


class Page(NamedTuple):
    """A list read: the store's version, the items' JSON texts (None when `not_modified` said so)
    and the number of items the query matches before paging."""

    version: str
    items: list[str] | None
    total: int | None


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise HipflaskError(400, "bad_store_name", "a store name is 1 to 128 letters, digits, '_', '.' or '-', "
                                                   "starting with a letter or digit")
    return name


def parse_id(text: str) -> int:
    """The item id in a URL segment; HipflaskError(400) unless it is an integer from 1 to MAX_ID."""
    if not _ID.fullmatch(text) or not 0 < int(text) <= MAX_ID:
        raise HipflaskError(400, "bad_id", f"an item id is an integer from 1 to {MAX_ID}, got {text[:40]!r}")
    return int(text)


def parse_ids(text: str) -> list[int]:
    """The ids of a comma-separated list (duplicates dropped), each as parse_id checks it."""
    parts = text.split(",")
    if len(parts) > MAX_IDS_PER_DELETE:
        raise HipflaskError(400, "bad_id", f"at most {MAX_IDS_PER_DELETE} ids at once")
    return sorted({parse_id(part) for part in parts})


def merge_fields(old: dict, patch: dict) -> dict:
    """The original's merge: the patch's fields replace the old ones; null or "null" removes one."""
    merged = dict(old)
    for key, value in patch.items():
        if value is None or value == "null":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def encode(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise HipflaskError(400, "bad_json", "numbers must be finite (NaN and Infinity are not JSON)") from None


def client_fields(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if key not in KEPT}


def make_item(item_id: int, fields: dict, created: int, updated: int) -> dict:
    return {"id": item_id, **fields, "created": created, "updated": updated}


def check_preconditions(etag: str | None, if_match: Collection[str] | None, create_only: bool = False) -> None:
    check(etag, if_match, ANY if create_only else None, what="the item")
