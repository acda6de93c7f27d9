"""How a list request selects, orders and pages items: the store's query conventions.

Reserved parameters (every other parameter is an equality filter on an item field):

- `_limit=N`, `_offset=N`: at most N items, after skipping `_offset` (json-server, Kinto).
- `_start=A`, `_end=B`: json-server's slice, items A to B-1 (`_start` is `_offset`).
- `_page=P` with `_per_page=N` (or `_limit=N`; 10 when neither): page P, counting from 1.
- `_sort=a,-b`: ascending by `a`, then descending by `b` (Kinto); json-server's
  `_sort=a,b&_order=asc,desc` gives one order per sorted field. Ties are broken by id, so pages
  never overlap or skip an item.
- `_since=MS`: only items updated after MS (epoch milliseconds), as Kinto's `_since`.
- `callback` (JSONP) and `_reload_cache` are not filters.
- `field=value`: items whose field equals the value. Dotted paths reach into nested objects
  (`address.city=Paris`); a repeated parameter matches any of its values. A value matches the
  string it is and the number it converts to as form data does (`3`, `2.5`); `true`, `false`
  and `null` also match those JSON literals. Field names are `[A-Za-z0-9_]+` segments.

Any other parameter that starts with `_` is refused (400), so a typo never filters silently.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from werkzeug.datastructures import MultiDict

from hipflask.errors import HipflaskError

PAGING = ("_limit", "_offset", "_start", "_end", "_page", "_per_page")
RESERVED = frozenset((*PAGING, "_sort", "_order", "_since", "callback", "_reload_cache"))
DEFAULT_PER_PAGE = 10
_FIELD = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
_NUMBER = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class Filter:
    """Items whose field at `path` equals one of `values` (the raw query strings)."""

    path: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """A list request: which items (filters, since), in which order (sort), which page."""

    limit: int | None = None
    offset: int = 0
    sort: tuple[tuple[tuple[str, ...], bool], ...] = ()
    filters: tuple[Filter, ...] = ()
    since: int | None = None

    @property
    def paged(self) -> bool:
        return self.limit is not None or self.offset > 0


def bad_query(message: str) -> HipflaskError:
    return HipflaskError(400, "bad_query", message)


def field_path(name: str, parameter: str) -> tuple[str, ...]:
    if not _FIELD.fullmatch(name):
        raise bad_query(f"{parameter}: {name!r} is not a field name (letters, digits, _ and dotted paths)")
    return tuple(name.split("."))


def _count(args: MultiDict, name: str, minimum: int = 0) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    if not _NUMBER.fullmatch(value) or int(value) < minimum:
        raise bad_query(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def _sort(args: MultiDict) -> tuple[tuple[tuple[str, ...], bool], ...]:
    names = [name.strip() for name in args.get("_sort", "").split(",") if name.strip()]
    orders = [order.strip().lower() for order in args.get("_order", "").split(",") if order.strip()]
    if any(order not in ("asc", "desc") for order in orders):
        raise bad_query("_order takes asc or desc, one per _sort field")
    if len(orders) > 1 and len(orders) != len(names):
        raise bad_query("_order takes one order per _sort field")
    keys = []
    for index, name in enumerate(names):
        descending = name.startswith("-")
        name = name.lstrip("-+")
        if orders:
            descending = orders[index if len(orders) > 1 else 0] == "desc"
        keys.append((field_path(name, "_sort"), descending))
    return tuple(keys)


def parse(args: MultiDict) -> Query:
    """The Query a list request's parameters ask for; HipflaskError(400) for a parameter it cannot use."""
    for name in args:
        if name.startswith("_") and name not in RESERVED:
            raise bad_query(f"unknown parameter {name!r} (see the store's query conventions)")
    limit = _count(args, "_limit")
    page = _count(args, "_page", minimum=1)
    if page is not None:
        per_page = _count(args, "_per_page") or limit or DEFAULT_PER_PAGE
        limit, offset = per_page, (page - 1) * per_page
    else:
        offset = _count(args, "_offset")
        offset = _count(args, "_start") if offset is None else offset
        offset = offset or 0
        end = _count(args, "_end")
        if limit is None:
            limit = _count(args, "_per_page")
        if limit is None and end is not None:
            limit = max(end - offset, 0)
    filters = tuple(
        Filter(field_path(name, name), tuple(values))
        for name, values in args.lists() if name not in RESERVED)
    return Query(limit=limit, offset=offset, sort=_sort(args), filters=filters, since=_count(args, "_since"))


def next_page(args: MultiDict, query: Query) -> list[tuple[str, str]]:
    """The parameters of the page after `query`'s: the same filters and sort, `_limit` and `_offset`."""
    kept: Iterable[tuple[str, str]] = ((k, v) for k, v in args.items(multi=True) if k not in PAGING)
    return [*kept, ("_limit", str(query.limit)), ("_offset", str(query.offset + (query.limit or 0)))]
