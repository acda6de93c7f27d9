"""The store's SQL for SQLite: the schema and the statements of the writes (the translation of a
list `Query` is store.sqlite_query)."""
from __future__ import annotations

import sqlite3

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


def create_schema(connection: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        connection.execute(statement)
