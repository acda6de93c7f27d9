"""How a list request selects, orders and pages items: the store's query conventions.

This module only parses: it turns the parameters into a Query that names fields by path and
conditions by operator, and says nothing of SQL (store.sqlite_query translates a Query for
SQLite; another backend translates the same Query its own way).

Reserved parameters (every other parameter is a filter on an item field):

- `_limit=N`, `_offset=N`: at most N items, after skipping `_offset` (json-server, Kinto).
- `_start=A`, `_end=B`: json-server's slice, items A to B-1 (`_start` is `_offset`).
- `_page=P` with `_per_page=N` (or `_limit=N`; 10 when neither): page P, counting from 1.
- `_sort=a,-b`: ascending by `a`, then descending by `b` (Kinto); json-server's
  `_sort=a,b&_order=asc,desc` gives one order per sorted field. Ties are broken by id, so pages
  never overlap or skip an item.
- `_since=MS`: only items updated after MS (epoch milliseconds), as Kinto's `_since`.
- `q=text`: items with a string value anywhere (nested too) that contains the text, ignoring case.
- `_embed=<children>`, `_expand=<parent>`: json-server's relations (see store.relations).
- `callback` (JSONP) and `_reload_cache` are not filters.

Filters, in json-server's two dialects; field names are `[A-Za-z0-9_]+` segments, dotted paths
reach into nested objects (`address.city=Paris`):

- `field=value` (and 1.x's `field:eq=value`): the field equals the value; a repeated parameter
  matches any of its values.
- 0.17 suffixes `field_ne`, `field_gte`, `field_lte` (and `field_gt`, `field_lt`), `field_like`
  (a regular expression, ignoring case).
- 1.x operators `field:ne`, `:lt`, `:lte`, `:gt`, `:gte`, `:in` (a comma list), `:contains`,
  `:startsWith`, `:endsWith` (substrings of string fields, ignoring case).

How a value compares (json-server's JavaScript semantics, where the query value is a string): a
value that reads as a number (`30`, `-2.5`) compares as a number with number fields and as text
with string fields (`"30" < "4"`); any other value compares only with string fields; `true`,
`false` and `null` also equal those JSON literals. A field the item does not have matches no
condition, `_ne` included. Several conditions must all hold.

Any other parameter that starts with `_`, an unknown `:operator`, an operator without a value, a
bad regular expression or a JSON literal given to an ordering comparison is refused (400 naming
the parameter), so a query hipflask does not understand never looks like an empty result.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from hipflask.errors import HipflaskError

PAGING = ("_limit", "_offset", "_start", "_end", "_page", "_per_page")
RELATIONS = ("_embed", "_expand")
RESERVED = frozenset((*PAGING, *RELATIONS, "_sort", "_order", "_since", "q", "callback", "_reload_cache"))
DEFAULT_PER_PAGE = 10
MAX_PATTERN_LENGTH = 256
MAX_RELATIONS = 8
ORDERING = frozenset(("lt", "lte", "gt", "gte"))
SUBSTRING = frozenset(("contains", "startsWith", "endsWith"))
OPERATORS = frozenset(("eq", "ne", "in", "like", *ORDERING, *SUBSTRING))
SUFFIXES = {"_gte": "gte", "_lte": "lte", "_gt": "gt", "_lt": "lt", "_ne": "ne", "_like": "like"}
LITERALS = frozenset(("true", "false", "null"))
_FIELD = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
_SUFFIX = re.compile(r"(.+?)(_gte|_lte|_gt|_lt|_ne|_like)")
_NUMBER = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class Filter:
    """Items whose field at `path` satisfies `op` with `values` (the raw query strings).

    `eq`, `in` and `like` hold when any value matches, `ne` when none does, the ordering and
    substring operators when every value holds.
    """

    path: tuple[str, ...]
    values: tuple[str, ...]
    op: str = "eq"


@dataclass(frozen=True)
class Query:
    """A list request: which items (filters, search, since), in which order (sort), which page,
    and which related items to add (embed, expand)."""

    limit: int | None = None
    offset: int = 0
    sort: tuple[tuple[tuple[str, ...], bool], ...] = ()
    filters: tuple[Filter, ...] = ()
    since: int | None = None
    search: str | None = None
    embed: tuple[str, ...] = ()
    expand: tuple[str, ...] = ()

    @property
    def paged(self) -> bool:
        return self.limit is not None or self.offset > 0


def bad_query(message: str) -> HipflaskError:
    return HipflaskError(400, "bad_query", message)


def field_path(name: str, parameter: str) -> tuple[str, ...]:
    if not _FIELD.fullmatch(name):
        raise bad_query(f"{parameter}: {name!r} is not a field name (letters, digits, _ and dotted paths)")
    return tuple(name.split("."))


NO_QUERY = Query()


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


def _operator(name: str) -> tuple[str, str]:
    """The field and the operator a filter parameter names (`views:gte`, `views_gte`, `views`)."""
    if ":" in name:
        field, _, op = name.partition(":")
        if op not in OPERATORS - {"like"}:
            raise bad_query(f"{name}: unknown operator {op!r} (eq, ne, lt, lte, gt, gte, in, contains, "
                            "startsWith, endsWith)")
        return field, op
    suffixed = _SUFFIX.fullmatch(name)
    if suffixed:
        return suffixed[1], SUFFIXES[suffixed[2]]
    return name, "eq"


def _checked_values(parameter: str, op: str, values: list[str]) -> tuple[str, ...]:
    if op == "in":
        values = [part for value in values for part in value.split(",")]
    if op != "eq" and any(value == "" for value in values):
        raise bad_query(f"{parameter} needs a value")
    if op in ORDERING and any(value in LITERALS for value in values):
        raise bad_query(f"{parameter} compares with a number or a text, not {values[0]!r}")
    if op == "like":
        for value in values:
            if len(value) > MAX_PATTERN_LENGTH:
                raise bad_query(f"{parameter}: a regular expression may be at most {MAX_PATTERN_LENGTH} characters")
            try:
                re.compile(value, re.IGNORECASE)
            except re.error as exc:
                raise bad_query(f"{parameter}: not a regular expression ({exc})") from None
    return tuple(values)


def _filter(parameter: str, values: list[str]) -> Filter:
    field, op = _operator(parameter)
    return Filter(field_path(field, parameter), _checked_values(parameter, op, values), op)


def _relations(args: MultiDict, name: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for value in args.getlist(name)
                                for part in value.split(",") if part.strip()))
    if len(names) > MAX_RELATIONS:
        raise bad_query(f"{name}: at most {MAX_RELATIONS} relations at once")
    return names


def parse(args: MultiDict) -> Query:
    """The Query a list request's parameters ask for; HipflaskError(400) for a parameter it cannot use."""
    if not args:  # the plain list; each absent parameter below would cost Werkzeug an exception
        return NO_QUERY
    for name in args:
        if name.startswith("_") and name not in RESERVED:
            raise bad_query(f"unknown parameter {name!r} (see the store's query conventions)")
    limit = _count(args, "_limit")
    page = _count(args, "_page", minimum=1)
    if page is not None:
        per_page = _count(args, "_per_page") or limit or DEFAULT_PER_PAGE
        limit, offset = per_page, (page - 1) * per_page
    else:
        start = _count(args, "_offset")
        start = _count(args, "_start") if start is None else start
        offset = start or 0
        end = _count(args, "_end")
        if limit is None:
            limit = _count(args, "_per_page")
        if limit is None and end is not None:
            limit = max(end - offset, 0)
    filters = tuple(_filter(name, values) for name, values in args.lists() if name not in RESERVED)
    return Query(limit=limit, offset=offset, sort=_sort(args), filters=filters, since=_count(args, "_since"),
                 search=args.get("q") or None, embed=_relations(args, "_embed"), expand=_relations(args, "_expand"))


def relations(args: MultiDict) -> Query:
    """The relations an item request asks for (`_embed`, `_expand`); other parameters are ignored."""
    if not args:
        return NO_QUERY
    return Query(embed=_relations(args, "_embed"), expand=_relations(args, "_expand"))


def next_page(args: MultiDict, query: Query) -> list[tuple[str, str]]:
    """The parameters of the page after `query`'s: the same filters and sort, `_limit` and `_offset`."""
    kept: Iterable[tuple[str, str]] = ((k, v) for k, v in args.items(multi=True) if k not in PAGING)
    return [*kept, ("_limit", str(query.limit)), ("_offset", str(query.offset + (query.limit or 0)))]
