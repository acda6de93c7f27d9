"""Values by key in SQLite (the default kv backend): one database file per namespace, one row per key.

The contract is `kv.storage.KVStorage`'s. Here a namespace's file `<data_dir>/<namespace>.sqlite3`
is created by its first write, every put runs in a BEGIN IMMEDIATE transaction on that file shared
by group commit with the worker's concurrent writers of the file (`hipflask.sqlite.Databases.commit`,
a SAVEPOINT per write), and expired rows are deleted by the next write to the namespace.
"""
from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Collection
from pathlib import Path

from hipflask import json_depth
from hipflask.clock import now_ms
from hipflask.conditional import check
from hipflask.sqlite import Databases

from kv.storage import Entry, Item, KVStorage, after_prefix, check_key

PATHS_CACHED = 4096
READY_FILE = ".kv-ready.sqlite3"  # a namespace never starts with a dot, so this is no namespace's file

_SELECT = "SELECT key, value, content_type, etag, modified, expires FROM kv WHERE key = ?"
_UPSERT = ("INSERT INTO kv (key, content_type, etag, size, modified, expires, value) VALUES (?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (key) DO UPDATE SET content_type = excluded.content_type, etag = excluded.etag, "
           "size = excluded.size, modified = excluded.modified, expires = excluded.expires, value = excluded.value")
_PURGE = "DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?"
_LIST = ("SELECT key, content_type, size, etag, modified, expires FROM kv "
         "WHERE key >= ? AND key < ? AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?")
_LIST_TO_END = ("SELECT key, content_type, size, etag, modified, expires FROM kv "
                "WHERE key >= ? AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?")


def _schema(connection: sqlite3.Connection) -> None:
    # The metadata columns come before the value, so a listing never reads a value's overflow pages.
    connection.execute("""
        CREATE TABLE IF NOT EXISTS kv (
            key TEXT NOT NULL PRIMARY KEY,
            content_type TEXT NOT NULL,
            etag TEXT NOT NULL,
            size INTEGER NOT NULL,
            modified INTEGER NOT NULL,
            expires INTEGER,
            value BLOB NOT NULL
        )""")
    connection.execute("CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL")



class KVStore(KVStorage):
    """The values of every namespace in SQLite, under `data_dir`."""

    def __init__(self, data_dir: Path, *, max_value_size: int, vfs: str | None = None, synchronous: str = "FULL",
                 max_json_depth: int = json_depth.DEFAULT_MAX_JSON_DEPTH):
        self.data_dir = Path(data_dir)
        self.max_value_size = max_value_size
        self.max_json_depth = max_json_depth
        self.databases = Databases(vfs=vfs, synchronous=synchronous, schema=_schema)
        # Namespaces come from clients: the cache of their paths is bounded (least recently used out).
        self._path = functools.lru_cache(maxsize=PATHS_CACHED)(self._namespace_path)

    def _namespace_path(self, namespace: str) -> Path:
        return self.data_dir / f"{namespace}.sqlite3"

    def get(self, namespace: str, key: str) -> Item | None:
        """The key's value, None when it has none (or it expired)."""
        check_key(key)
        connection = self.databases.connection(self._path(namespace))
        if connection is None:
            return None
        row = connection.execute(_SELECT, (key,)).fetchone()
        if row is None or (row[5] is not None and row[5] <= now_ms()):
            return None
        return Item._make(row)

    def put(self, namespace: str, key: str, value: bytes, content_type: str, *, ttl: int | None = None,
            if_match: Collection[str] | None = None, if_none_match: Collection[str] | None = None) -> Item:
        """Store `value` under `key` (replacing any value); `ttl` in seconds. The stored item."""
        check_key(key)
        self.check_value(value, content_type)
        etag = os.urandom(8).hex()

        def upsert(connection: sqlite3.Connection) -> Item:
            modified = now_ms()
            expires = modified + ttl * 1000 if ttl else None
            connection.execute(_PURGE, (modified,))
            if if_match is not None or if_none_match is not None:
                row = connection.execute("SELECT etag FROM kv WHERE key = ?", (key,)).fetchone()
                check(row[0] if row else None, if_match, if_none_match, what="the key")
            connection.execute(_UPSERT, (key, content_type, etag, len(value), modified, expires, value))
            return Item(key, value, content_type, etag, modified, expires)

        return self.databases.commit(self._path(namespace), upsert)

    def delete(self, namespace: str, key: str, *, if_match: Collection[str] | None = None) -> bool:
        """Remove the key's value; False when it had none."""
        check_key(key)
        connection = self.databases.connection(self._path(namespace))
        if connection is None:
            return False
        with self.databases.transaction(connection):
            connection.execute(_PURGE, (now_ms(),))
            row = connection.execute("SELECT etag FROM kv WHERE key = ?", (key,)).fetchone()
            if row is None:
                return False
            check(row[0], if_match, what="the key")
            connection.execute("DELETE FROM kv WHERE key = ?", (key,))
        return True

    def keys(self, namespace: str, prefix: str = "", limit: int | None = None) -> list[Entry]:
        """The live keys that start with `prefix`, sorted, at most `limit` of them."""
        check_key(prefix, prefix=True)
        connection = self.databases.connection(self._path(namespace))
        if connection is None:
            return []
        now, limit = now_ms(), -1 if limit is None else limit
        upper = after_prefix(prefix)
        if upper is None:
            rows = connection.execute(_LIST_TO_END, (prefix, now, limit))
        else:
            rows = connection.execute(_LIST, (prefix, upper, now, limit))
        return [Entry._make(row) for row in rows]

    def close(self) -> None:
        self.databases.close_all()

    def ready(self) -> bool:
        """The data directory is writable and SQLite opens a database there."""
        if not os.access(self.data_dir, os.W_OK):
            raise RuntimeError(f"{self.data_dir} is not writable")
        connection = self.databases.connection(self.data_dir / READY_FILE, create=True)
        return connection.execute("SELECT count(*) FROM sqlite_master").fetchone() is not None
