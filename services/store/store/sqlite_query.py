"""A parsed Query (store.query) as SQLite SQL over the `items` table.

Each item is one JSON text in `items.data`; fields are read with `json_extract`/`json_type`, the
full-text search walks every value with `json_tree`, and `_like` calls the REGEXP user function
that `prepare()` registers on a connection. `id`, `created` and `updated` are columns. Nothing
here loads items into Python: a filtered page is one SELECT with LIMIT, its total one count(*).

How a value compares is store.query's rule, written once here as SQL: a JSON string compares with
the raw value as text, a JSON number with the value's number (NULL, so never true, when the
value is no number), `true`/`false`/`null` equal their literal, and a missing field (json_type
NULL) satisfies nothing.
"""
from __future__ import annotations

import functools
import re
import sqlite3
from typing import Any

from hipflask.convert import convert_value

from store.items import KEPT
from store.query import Filter, Query

COLUMNS = frozenset(KEPT)
_COMPARE = {"eq": "=", "ne": "=", "in": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_ESCAPED = re.compile(r"([\\%_])")


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern:
    return re.compile(text, re.IGNORECASE)


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and _pattern(pattern).search(str(value)) is not None


def prepare(connection: sqlite3.Connection) -> None:
    """Register the functions the generated SQL calls (REGEXP) on `connection`."""
    connection.create_function("regexp", 2, _regexp, deterministic=True)


def json_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{segment}"' for segment in path)


def _escape_like(value: str) -> str:
    return _ESCAPED.sub(r"\\\1", value)


def _like_pattern(value: str, op: str) -> str:
    escaped = _escape_like(value)
    return {"contains": f"%{escaped}%", "startsWith": f"{escaped}%", "endsWith": f"%{escaped}"}[op]


class _Params(dict):
    def bind(self, value: Any) -> str:
        name = f"v{len(self)}"
        self[name] = value
        return f":{name}"


def _number(raw: str) -> int | float | None:
    converted = convert_value(raw)
    return converted if isinstance(converted, (int, float)) and not isinstance(converted, bool) else None


def _column_condition(column: str, condition: Filter, params: _Params) -> str:
    if condition.op == "like":
        return "(" + " OR ".join(f"regexp({params.bind(raw)}, {column})" for raw in condition.values) + ")"
    if condition.op in ("contains", "startsWith", "endsWith"):
        return "0"  # the columns are numbers; these operators match strings only
    numbers = [_number(raw) for raw in condition.values]
    if condition.op in ("eq", "in", "ne"):
        listed = ",".join(params.bind(number) for number in numbers)
        return f"{column} {'NOT IN' if condition.op == 'ne' else 'IN'} ({listed})"
    return " AND ".join(f"{column} {_COMPARE[condition.op]} {params.bind(number)}" for number in numbers)


def _compare(value: str, kind: str, operator: str, raw: str, params: _Params) -> str:
    text, number = params.bind(raw), params.bind(_number(raw))
    literals = "" if operator != "=" else (
        f" WHEN 'true' THEN {text} = 'true' WHEN 'false' THEN {text} = 'false' WHEN 'null' THEN {text} = 'null'")
    return (f"CASE {kind} WHEN 'text' THEN {value} {operator} {text} WHEN 'integer' THEN {value} {operator} {number} "
            f"WHEN 'real' THEN {value} {operator} {number}{literals} ELSE 0 END")


def _field_condition(condition: Filter, params: _Params) -> str:
    path = params.bind(json_path(condition.path))
    value, kind = f"json_extract(data, {path})", f"json_type(data, {path})"
    op = condition.op
    if op == "like":
        shown = (f"CASE {kind} WHEN 'text' THEN {value} WHEN 'integer' THEN {value} WHEN 'real' THEN {value} "
                 f"WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END")
        return "(" + " OR ".join(f"regexp({params.bind(raw)}, {shown})" for raw in condition.values) + ")"
    if op in ("contains", "startsWith", "endsWith"):
        return " AND ".join(f"({kind} = 'text' AND {value} LIKE {params.bind(_like_pattern(raw, op))} ESCAPE '\\')"
                            for raw in condition.values)
    tests = [_compare(value, kind, _COMPARE[op], raw, params) for raw in condition.values]
    if op in ("eq", "in"):
        return "(" + " OR ".join(tests) + ")"
    if op == "ne":
        return f"({kind} IS NOT NULL AND NOT (" + " OR ".join(tests) + "))"
    return "(" + " AND ".join(tests) + ")"


def condition_sql(condition: Filter, params: _Params) -> str:
    if len(condition.path) == 1 and condition.path[0] in COLUMNS:
        return _column_condition(condition.path[0], condition, params)
    return _field_condition(condition, params)


def _search_sql(text: str, params: _Params) -> str:
    pattern = params.bind(f"%{_escape_like(text)}%")
    return (f"EXISTS (SELECT 1 FROM json_tree(items.data) AS node "
            f"WHERE node.type = 'text' AND node.value LIKE {pattern} ESCAPE '\\')")


def where(store: str, query: Query) -> tuple[str, _Params]:
    """The WHERE clause of the items `query` selects in `store`, and its parameters."""
    params = _Params(store=store)
    clauses = ["store = :store"]
    if query.since is not None:
        clauses.append(f"updated > {params.bind(query.since)}")
    clauses.extend(condition_sql(condition, params) for condition in query.filters)
    if query.search:
        clauses.append(_search_sql(query.search, params))
    return " AND ".join(clauses), params


def _sort_value(path: tuple[str, ...], params: _Params) -> str:
    if len(path) == 1 and path[0] in COLUMNS:
        return path[0]
    return f"json_extract(data, {params.bind(json_path(path))})"


def order_by(query: Query, params: _Params) -> str:
    """The ORDER BY of `query` (ties broken by id), binding its paths into `params` (from where())."""
    keys = [f"{_sort_value(path, params)} {'DESC' if descending else 'ASC'}" for path, descending in query.sort]
    if not any(path == ("id",) for path, _ in query.sort):
        keys.append("id ASC")
    return ", ".join(keys)
