"""The store's SQL for PostgreSQL: the schema, the statements of the writes, and the translation of a
list `Query` into a WHERE clause and an ORDER BY on `jsonb`, with the same meaning as `sqlite_sql`.

One table of stores and one of items for every namespace: the namespace is the first column of
each primary key (see `store.postgres` for why). An item is kept twice: `body`, the JSON text
served byte for byte (the key order and number spelling the client sent), and `data`, the same
item as `jsonb` for filters and sorts. Indexes: the primary key `(namespace, store, id)` serves
reads, appends and id order; `(namespace, store, updated)` serves `_since`; a GIN index
(`jsonb_path_ops`) on `data` serves equality filters, written as containment (`data @> ...`).
"""
from __future__ import annotations

import json
import re
from typing import Any

from hipflask.convert import convert_value

from store.items import KEPT
from store.query import LITERALS, SUBSTRING, Filter, Query

_COLUMNS = frozenset(KEPT)
_PLAIN = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII but `"` and `\`: the body spells it as it is
_COMPARE = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

MIGRATIONS = (
    (
        """CREATE TABLE store_stores (
            namespace text COLLATE "C" NOT NULL,
            name text COLLATE "C" NOT NULL,
            token text NOT NULL,
            next_id bigint NOT NULL,
            revision bigint NOT NULL,
            modified bigint NOT NULL,
            PRIMARY KEY (namespace, name)
        )""",
        """CREATE TABLE store_items (
            namespace text COLLATE "C" NOT NULL,
            store text COLLATE "C" NOT NULL,
            id bigint NOT NULL,
            body text NOT NULL,
            data jsonb NOT NULL,
            etag text NOT NULL,
            created bigint NOT NULL,
            updated bigint NOT NULL,
            PRIMARY KEY (namespace, store, id)
        )""",
        "CREATE INDEX store_items_updated ON store_items (namespace, store, updated)",
        "CREATE INDEX store_items_data ON store_items USING gin (data jsonb_path_ops)",
    ),
)

# The store row is the store's lock: every write upserts it first, so writes of one store
# serialise on it (as SQLite's writes of one file do) while other stores write in parallel.
_TAKE_ID = """
    INSERT INTO store_stores (namespace, name, token, next_id, revision, modified)
    VALUES (%(ns)s, %(store)s, %(token)s,
            (SELECT coalesce(max(id), 0) + 2 FROM store_items WHERE namespace = %(ns)s AND store = %(store)s),
            1, %(now)s)
    ON CONFLICT (namespace, name) DO UPDATE SET
        next_id = greatest(store_stores.next_id, excluded.next_id - 1) + 1,
        revision = store_stores.revision + 1,
        modified = greatest(excluded.modified, store_stores.modified + 1)
    RETURNING next_id - 1 AS id, revision, modified, token"""
# An append is one statement: take the id, then write the item built around the client's fields.
APPEND = f"""
    WITH taken AS ({_TAKE_ID}),
         built AS (SELECT taken.*, '{{"id":' || taken.id || ',' || %(fields)s || '"created":' || taken.modified
                          || ',"updated":' || taken.modified || '}}' AS body FROM taken)
    INSERT INTO store_items (namespace, store, id, body, data, etag, created, updated)
    SELECT %(ns)s, %(store)s, id, body,
           (CASE WHEN %(query_fields)s::text IS NULL THEN body ELSE '{{"id":' || id || ',' || %(query_fields)s
                 || '"created":' || modified || ',"updated":' || modified || '}}' END)::jsonb,
           token || '-' || revision, modified, modified
    FROM built WHERE id <= %(max_id)s
    RETURNING id, created, etag"""
BUMP = """
    INSERT INTO store_stores (namespace, name, token, next_id, revision, modified)
    VALUES (%(ns)s, %(store)s, %(token)s, %(next)s, 1, %(now)s)
    ON CONFLICT (namespace, name) DO UPDATE SET
        next_id = greatest(store_stores.next_id, excluded.next_id),
        revision = store_stores.revision + 1,
        modified = greatest(excluded.modified, store_stores.modified + 1)
    RETURNING revision, modified, token"""
LOCK_STORE = "SELECT 1 FROM store_stores WHERE namespace = %s AND name = %s FOR UPDATE"
PUT = """
    INSERT INTO store_items (namespace, store, id, body, data, etag, created, updated)
    VALUES (%(ns)s, %(store)s, %(id)s, %(body)s::text, coalesce(%(query_body)s::text, %(body)s::text)::jsonb,
            %(etag)s, %(created)s, %(updated)s)
    ON CONFLICT (namespace, store, id) DO UPDATE SET
        body = excluded.body, data = excluded.data, etag = excluded.etag, updated = excluded.updated"""
GET = "SELECT body, etag FROM store_items WHERE namespace = %s AND store = %s AND id = %s"
GET_FOR_WRITE = "SELECT body, etag, created FROM store_items WHERE namespace = %s AND store = %s AND id = %s"
VERSION = "SELECT token, revision FROM store_stores WHERE namespace = %s AND name = %s"
STORES = "SELECT store, count(*) FROM store_items WHERE namespace = %s GROUP BY store ORDER BY store"
ETAGS = "SELECT id, etag FROM store_items WHERE namespace = %s AND store = %s AND id = ANY(%s)"
DELETE = "DELETE FROM store_items WHERE namespace = %s AND store = %s AND id = ANY(%s) RETURNING id"
IMPORT_STORE = """
    INSERT INTO store_stores (namespace, name, token, next_id, revision, modified) VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (namespace, name) DO NOTHING"""
IMPORT_ITEM = """
    INSERT INTO store_items (namespace, store, id, body, data, etag, created, updated)
    VALUES (%s, %s, %s, %s, coalesce(%s::text, %s::text)::jsonb, %s, %s, %s)
    ON CONFLICT (namespace, store, id) DO NOTHING"""

# SQLite orders json_extract's values as NULL < numbers (true and false as 1 and 0) < text; this
# ranks jsonb values the same way, then compares numbers as numbers and text bytewise.
_RANK = ("CASE jsonb_typeof({v}) WHEN 'number' THEN 1 WHEN 'boolean' THEN 1 "
         "WHEN 'string' THEN 2 WHEN 'object' THEN 2 WHEN 'array' THEN 2 END")
_NUMBER = ("CASE jsonb_typeof({v}) WHEN 'number' THEN ({v})::numeric "
           "WHEN 'boolean' THEN ({v})::boolean::int END")
_TEXT = ("CASE jsonb_typeof({v}) WHEN 'string' THEN {v} #>> '{{}}' "
         "WHEN 'object' THEN ({v})::text WHEN 'array' THEN ({v})::text END COLLATE \"C\"")


_UNSAFE = re.compile(r"\\u(?:0000|d[89a-f])", re.IGNORECASE)


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_safe(key): _safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_safe(item) for item in value]
    return value


def query_text(text: str) -> str | None:
    """The text to keep as `data` when jsonb cannot hold `text` as it is (it refuses NUL and unpaired
    surrogates, which JSON allows): those characters become U+FFFD there, for queries only; the
    served `body` keeps them. None when `text` can be kept as it is. `text` may be an object's
    members without braces (an append's fields)."""
    if not _UNSAFE.search(text):
        return None
    wrapped = not text.startswith("{")
    value = json.loads("{" + text.rstrip(",") + "}" if wrapped else text)
    safe = json.dumps(_safe(value), separators=(",", ":"))
    return (safe[1:-1] + "," if safe != "{}" else "") if wrapped else safe


def _nested(path: tuple[str, ...], value: Any) -> str:
    for segment in reversed(path):
        value = {segment: value}
    return json.dumps(value, separators=(",", ":"))


def _number(raw: str) -> str | None:
    """The number a raw query value reads as (as text, for a numeric parameter), None when none."""
    converted = convert_value(raw)
    return str(converted) if isinstance(converted, (int, float)) and not isinstance(converted, bool) else None


def _candidates(raw: str) -> list[Any]:
    """The JSON values a filter's raw query value equals: the string, the number it converts to,
    and the literal true, false or null it spells."""
    values: list[Any] = [raw]
    number = _number(raw)
    if number is not None:
        values.append(convert_value(raw))
    if raw in LITERALS:
        values.append(json.loads(raw))
    return values


class _Params(dict):
    def bind(self, value: Any, cast: str = "") -> str:
        name = f"v{len(self)}"
        self[name] = value
        return f"%({name})s{cast}"


def _value(path: tuple[str, ...], params: _Params) -> str:
    """The jsonb at `path`, SQL NULL when missing. A digit segment names an object key, as in
    SQLite's `$."tags"."0"`, never an array index: the value is NULL below an array."""
    value = f"(data #> {params.bind(list(path), '::text[]')})"
    guards = [f"jsonb_typeof(data #> {params.bind(list(path[:n]), '::text[]')}) = 'object'"
              for n in range(1, len(path)) if path[n].isdigit()]
    return value if not guards else f"(CASE WHEN {' AND '.join(guards)} THEN {value} END)"


def _equals_any(condition: Filter, params: _Params) -> str:
    """Containment (`data @> ...`, the GIN index) of any value the raw values equal."""
    return "(" + " OR ".join(f"data @> {params.bind(_nested(condition.path, value), '::jsonb')}"
                             for raw in condition.values for value in _candidates(raw)) + ")"


def _compare(value: str, operator: str, raw: str, params: _Params) -> str:
    text = params.bind(raw, "::text")
    number = params.bind(_number(raw), "::numeric")
    return (f"CASE jsonb_typeof({value}) WHEN 'string' THEN ({value} #>> '{{}}') COLLATE \"C\" {operator} {text} "
            f"WHEN 'number' THEN ({value})::numeric {operator} {number} ELSE false END")


def _field_condition(condition: Filter, params: _Params) -> str:
    op = condition.op
    if op in ("eq", "in"):
        return _equals_any(condition, params)
    value = _value(condition.path, params)
    if op == "ne":
        return f"({value} IS NOT NULL AND NOT {_equals_any(condition, params)})"
    if op == "like":
        shown = (f"CASE jsonb_typeof({value}) WHEN 'string' THEN {value} #>> '{{}}' "
                 f"WHEN 'number' THEN ({value})::text WHEN 'boolean' THEN ({value})::text END")
        return "(" + " OR ".join(f"{shown} ~* {params.bind(raw, '::text')}" for raw in condition.values) + ")"
    if op in SUBSTRING:
        return "(" + " AND ".join(f"(jsonb_typeof({value}) = 'string' AND {value} #>> '{{}}' ILIKE "
                                  f"{params.bind(_like_pattern(raw, op), '::text')})" for raw in condition.values) + ")"
    return "(" + " AND ".join(_compare(value, _COMPARE[op], raw, params) for raw in condition.values) + ")"


def _column_condition(column: str, condition: Filter, params: _Params) -> str:
    op = condition.op
    if op == "like":
        return "(" + " OR ".join(f"{column}::text ~* {params.bind(raw, '::text')}" for raw in condition.values) + ")"
    if op in SUBSTRING:
        return "false"  # the columns are numbers; these operators match strings only
    numbers = [_number(raw) for raw in condition.values]
    if op in ("eq", "in", "ne"):
        listed = f"{column} = ANY({params.bind(numbers, '::numeric[]')})"
        return f"NOT ({listed})" if op == "ne" else listed
    return "(" + " AND ".join(f"{column} {_COMPARE[op]} {params.bind(number, '::numeric')}" for number in numbers) + ")"


def _escape_like(value: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", value)


def _like_pattern(value: str, op: str) -> str:
    escaped = _escape_like(value)
    return {"contains": f"%{escaped}%", "startsWith": f"{escaped}%", "endsWith": f"%{escaped}"}[op]


def _search(text: str, params: _Params) -> str:
    pattern = params.bind(f"%{_escape_like(text)}%", "::text")
    walk = ("EXISTS (SELECT 1 FROM jsonb_path_query(data, 'strict $.**') AS node "
            f"WHERE jsonb_typeof(node) = 'string' AND node #>> '{{}}' ILIKE {pattern})")
    if _PLAIN.fullmatch(text):  # spelled alike in the served text: rule out most rows before the walk
        return f"(body ILIKE {pattern} AND {walk})"
    return walk


def where(namespace: str, store: str, query: Query) -> tuple[str, dict]:
    """The WHERE clause of the items `query` selects, and its parameters (the meaning is
    `store.sqlite_query`'s: see `store.query`)."""
    params = _Params(ns=namespace, store=store)
    clauses = ["namespace = %(ns)s", "store = %(store)s"]
    if query.since is not None:
        clauses.append(f"updated > {params.bind(query.since)}")
    for condition in query.filters:
        if len(condition.path) == 1 and condition.path[0] in _COLUMNS:
            clauses.append(_column_condition(condition.path[0], condition, params))
        else:
            clauses.append(_field_condition(condition, params))
    if query.search:
        clauses.append(_search(query.search, params))
    return " AND ".join(clauses), params


ITEM_SEPARATOR = "\x1e"  # never in a body: JSON escapes every control character, and bodies are ASCII


def list_page(namespace: str, store: str, query: Query) -> tuple[str, dict]:
    """One statement, so one snapshot and one round trip, for a list read: the store's `token` and
    `revision` (NULL when the store does not exist), the page's bodies joined by ITEM_SEPARATOR
    (NULL when empty), their number, and the count of every match, which is only counted when the
    page cannot tell it (a full page, or an empty one past the first)."""
    where_clause, params = where(namespace, store, query)
    params["limit"], params["offset"] = query.limit, query.offset
    page = (f"SELECT body FROM store_items WHERE {where_clause} ORDER BY {order_by(query, params)} "
            "LIMIT %(limit)s OFFSET %(offset)s")
    # the page is aggregated alone, in its own subquery, so string_agg reads it in its order
    statement = f"""
        SELECT version.token, version.revision, page.bodies, page.n,
               CASE WHEN version.token IS NOT NULL
                         AND ((%(limit)s::bigint IS NOT NULL AND page.n >= %(limit)s::bigint)
                              OR (page.n = 0 AND %(offset)s::bigint > 0))
                    THEN (SELECT count(*) FROM store_items WHERE {where_clause}) END
        FROM (SELECT string_agg(body, E'\\x1e') AS bodies, count(*) AS n FROM ({page}) AS sorted) AS page
        LEFT JOIN store_stores AS version ON version.namespace = %(ns)s AND version.name = %(store)s"""
    return statement, params


def order_by(query: Query, params: dict) -> str:
    keys = []
    for path, descending in query.sort:
        direction = "DESC NULLS LAST" if descending else "ASC NULLS FIRST"
        if len(path) == 1 and path[0] in _COLUMNS:
            keys.append(f"{path[0]} {direction}")
            continue
        name = f"s{len(params)}"
        params[name] = list(path)
        value = f"(data #> %({name})s::text[])"
        keys.extend(f"{expression.format(v=value)} {direction}" for expression in (_RANK, _NUMBER, _TEXT))
    if not any(path == ("id",) for path, _ in query.sort):
        keys.append("id ASC")
    return ", ".join(keys)
