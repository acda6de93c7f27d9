"""The store's SQL for SQLite: the schema, the statements of the writes, and the translation of a
list `Query` (filters, `_since`, sort) into a WHERE clause and an ORDER BY over the JSON items."""
from __future__ import annotations

import sqlite3
from typing import Any

from hipflask.convert import convert_value

from store.items import KEPT
from store.query import Query

_COLUMNS = frozenset(KEPT)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS stores (
        name TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        next_id INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        modified INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS items (
        store TEXT NOT NULL,
        id INTEGER NOT NULL,
        data TEXT NOT NULL,
        etag TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (store, id)
    ) WITHOUT ROWID""",
    "PRAGMA user_version = 1",
)
# Both upserts return the store's new revision, the `updated` time of this write and the token.
TAKE_ID = """
    INSERT INTO stores (name, token, next_id, revision, modified)
    VALUES (:store, lower(hex(randomblob(6))),
            (SELECT coalesce(max(id), 0) + 2 FROM items WHERE store = :store), 1, :now)
    ON CONFLICT (name) DO UPDATE SET
        next_id = max(next_id, excluded.next_id - 1) + 1,
        revision = revision + 1,
        modified = max(excluded.modified, modified + 1)
    RETURNING next_id - 1, revision, modified, token"""
BUMP = """
    INSERT INTO stores (name, token, next_id, revision, modified)
    VALUES (:store, lower(hex(randomblob(6))), :next, 1, :now)
    ON CONFLICT (name) DO UPDATE SET
        next_id = max(next_id, excluded.next_id),
        revision = revision + 1,
        modified = max(excluded.modified, modified + 1)
    RETURNING revision, modified, token"""
PUT = """
    INSERT INTO items (store, id, data, etag, created, updated) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (store, id) DO UPDATE SET data = excluded.data, etag = excluded.etag, updated = excluded.updated"""
GET = "SELECT data, etag FROM items WHERE store = ? AND id = ?"
_MATCHES = """CASE json_type(data, :{p}) WHEN 'text' THEN json_extract(data, :{p}) = :{r}
    WHEN 'integer' THEN json_extract(data, :{p}) = :{n} WHEN 'real' THEN json_extract(data, :{p}) = :{n}
    WHEN 'true' THEN :{r} = 'true' WHEN 'false' THEN :{r} = 'false' WHEN 'null' THEN :{r} = 'null'
    ELSE 0 END"""


def _json_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{segment}"' for segment in path)


def create_schema(connection: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        connection.execute(statement)


def _value(path: tuple[str, ...], params: dict) -> str:
    if len(path) == 1 and path[0] in _COLUMNS:
        return path[0]
    name = f"p{len(params)}"
    params[name] = _json_path(path)
    return f"json_extract(data, :{name})"


def where(store: str, query: Query) -> tuple[str, dict]:
    params: dict[str, Any] = {"store": store}
    clauses = ["store = :store"]
    if query.since is not None:
        params["since"] = query.since
        clauses.append("updated > :since")
    for index, condition in enumerate(query.filters):
        if len(condition.path) == 1 and condition.path[0] in _COLUMNS:
            names = []
            for number, raw in enumerate(condition.values):
                names.append(f":f{index}v{number}")
                params[names[-1][1:]] = convert_value(raw)
            clauses.append(f"{condition.path[0]} IN ({','.join(names)})")
            continue
        path = f"f{index}p"
        params[path] = _json_path(condition.path)
        matches = []
        for number, raw in enumerate(condition.values):
            converted = convert_value(raw)
            params[f"f{index}r{number}"] = raw
            params[f"f{index}n{number}"] = converted if isinstance(converted, (int, float)) else None
            matches.append(_MATCHES.format(p=path, r=f"f{index}r{number}", n=f"f{index}n{number}"))
        clauses.append("(" + " OR ".join(matches) + ")")
    return " AND ".join(clauses), params


def order_by(query: Query, params: dict) -> str:
    keys = [f"{_value(path, params)} {'DESC' if descending else 'ASC'}" for path, descending in query.sort]
    if not any(path == ("id",) for path, _ in query.sort):
        keys.append("id ASC")
    return ", ".join(keys)
