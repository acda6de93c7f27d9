"""The store's SQLite backend (the default): named lists of JSON items per namespace.

One database file per namespace, `<data_dir>/<namespace>.sqlite3`, created by the namespace's
first write; reading a namespace or a store that does not exist answers empty (or None) and
creates nothing. A file holds two tables: `stores`, one row per store (the next id, a revision
bumped by every change, the time of the last change, and a random token so that a store
recreated from scratch never repeats an ETag of its previous life), and `items`.

The contract is `store.storage.StoreStorage`'s. Here every write runs inside a BEGIN IMMEDIATE
transaction (hipflask.sqlite.Databases), shared by group commit with the worker's concurrent
writers of the same file, each in a SAVEPOINT of its own: a merge is a read-modify-write under the
file's write lock, a write that fails rolls back alone, and the commit is fsynced
(STORE_SYNC=full) before the call returns.
"""
from __future__ import annotations

import builtins
import json
import os
import sqlite3
from collections.abc import Callable, Collection
from pathlib import Path

from hipflask.clock import now_ms
from hipflask.conditional import PreconditionFailed
from hipflask.config import ConfigError
from hipflask.errors import HipflaskError
from hipflask.sqlite import Databases

from store import sqlite_query, sqlite_sql as sql
from store.items import (
    MAX_ID,
    Item,
    Page,
    Written,
    check_name,
    check_preconditions,
    client_fields,
    encode,
    make_item,
    merge_fields,
    merge_patch,
)
from store.query import Query
from store.storage import EMPTY_VERSION, StoreStorage

OPEN_FILES_PER_THREAD = 32
PATHS_CACHED = 4096


class Store(StoreStorage):
    """The stores of every namespace in SQLite files under `data_dir`."""

    def __init__(self, data_dir: Path, databases: Databases):
        self.data_dir = Path(data_dir)
        self.databases = databases
        self._paths: dict[str, Path] = {}

    def path(self, namespace: str) -> Path:
        """The database file of `namespace` (whether it exists or not)."""
        path = self._paths.get(namespace)
        if path is None:
            if len(self._paths) >= PATHS_CACHED:
                self._paths.clear()
            path = self._paths[namespace] = self.data_dir / f"{namespace}.sqlite3"
        return path

    def ready(self) -> bool:
        return os.access(self.data_dir, os.W_OK | os.X_OK)

    def close(self) -> None:
        self.databases.close_all()

    def _reader(self, namespace: str) -> sqlite3.Connection | None:
        return self.databases.connection(self.path(namespace))

    # Reads

    def get(self, namespace: str, store: str, item_id: int) -> Item | None:
        """The item, or None when the namespace, the store or the item does not exist."""
        check_name(store)
        connection = self._reader(namespace)
        if connection is None:
            return None
        row = connection.execute(sql.GET, (store, item_id)).fetchone()
        return Item(*row) if row else None

    def stores(self, namespace: str) -> list[dict]:
        """`[{"name", "count"}]` for every store of the namespace that holds items, by name."""
        connection = self._reader(namespace)
        if connection is None:
            return []
        rows = connection.execute("SELECT store, count(*) FROM items GROUP BY store ORDER BY store")
        return [{"name": name, "count": count} for name, count in rows]

    def list(self, namespace: str, store: str, query: Query = Query(),
             not_modified: Callable[[str], bool] | None = None) -> Page:
        """The items `query` selects, ordered and paged, read in one snapshot with the store's version.

        `not_modified(version)` is asked first; when it answers True no item is read.
        """
        check_name(store)
        connection = self._reader(namespace)
        if connection is None:
            if not_modified is not None and not_modified(EMPTY_VERSION):
                return Page(EMPTY_VERSION, None, None)
            return Page(EMPTY_VERSION, [], 0)
        connection.execute("BEGIN")
        try:
            row = connection.execute("SELECT token, revision FROM stores WHERE name = ?", (store,)).fetchone()
            version = f"{row[0]}-{row[1]}" if row else EMPTY_VERSION
            if not_modified is not None and not_modified(version):
                return Page(version, None, None)
            where, params = sqlite_query.where(store, query)
            params["limit"] = -1 if query.limit is None else query.limit
            params["offset"] = query.offset
            items = [text for (text,) in connection.execute(
                f"SELECT data FROM items WHERE {where} ORDER BY {sqlite_query.order_by(query, params)} "
                "LIMIT :limit OFFSET :offset", params)]
            if (query.limit is None or len(items) < query.limit) and (items or query.offset == 0):
                total = query.offset + len(items)
            else:
                total = connection.execute(f"SELECT count(*) FROM items WHERE {where}", params).fetchone()[0]
            return Page(version, items, total)
        finally:
            connection.execute("ROLLBACK")

    # Writes

    def append(self, namespace: str, store: str, fields: dict) -> dict:
        """Add an item with the next id; the stored item (with id, created, updated)."""
        return self.append_written(namespace, store, fields).item

    def append_written(self, namespace: str, store: str, fields: dict) -> Written:
        """`append`, answering the stored item with its etag."""
        check_name(store)
        fields = client_fields(fields)
        text = encode(fields)[1:-1]
        text = text + "," if text else ""

        def take_id(connection: sqlite3.Connection) -> tuple[int, int, str]:
            item_id, revision, now, token = connection.execute(
                sql.TAKE_ID, {"store": store, "now": now_ms()}).fetchall()[0]
            if item_id > MAX_ID:
                raise HipflaskError(409, "ids_exhausted", f"store {store!r} has used every id up to {MAX_ID}")
            etag = f"{token}-{revision}"
            connection.execute(sql.PUT, (store, item_id, f'{{"id":{item_id},{text}"created":{now},"updated":{now}}}',
                                      etag, now, now))
            return item_id, now, etag

        item_id, now, etag = self.databases.commit(self.path(namespace), take_id)
        return Written(make_item(item_id, fields, now, now), etag, True)

    def merge(self, namespace: str, store: str, item_id: int, patch: dict, *, rfc7396: bool = False,
              if_match: Collection[str] | None = None) -> Written:
        """Merge `patch` into the item, creating it when missing.

        The original's merge (a null or "null" field removes it, nested objects are replaced), or
        with `rfc7396` a JSON Merge Patch (nested objects merge, only null removes).
        """
        check_name(store)
        patch = client_fields(patch)

        def merge_into(connection: sqlite3.Connection) -> Written:
            row = connection.execute("SELECT data, etag, created FROM items WHERE store = ? AND id = ?",
                                     (store, item_id)).fetchone()
            check_preconditions(row and row[1], if_match)
            old = client_fields(json.loads(row[0])) if row else {}
            fields = merge_patch(old, patch) if rfc7396 else merge_fields(old, patch)
            return self._put(connection, store, item_id, fields, row and row[2])

        return self.databases.commit(self.path(namespace), merge_into)

    def replace(self, namespace: str, store: str, item_id: int, fields: dict, *,
                if_match: Collection[str] | None = None, create_only: bool = False) -> Written:
        """Replace the item whole (keeping `created`), creating it when missing.

        `create_only` (If-None-Match: *) refuses to replace an existing item.
        """
        check_name(store)
        fields = client_fields(fields)

        def replace_with(connection: sqlite3.Connection) -> Written:
            row = connection.execute("SELECT etag, created FROM items WHERE store = ? AND id = ?",
                                     (store, item_id)).fetchone()
            check_preconditions(row and row[0], if_match, create_only)
            return self._put(connection, store, item_id, fields, row and row[1])

        return self.databases.commit(self.path(namespace), replace_with)

    def _put(self, connection: sqlite3.Connection, store: str, item_id: int, fields: dict,
             created: int | None) -> Written:
        revision, now, token = connection.execute(
            sql.BUMP, {"store": store, "next": item_id + 1, "now": now_ms()}).fetchall()[0]
        item = make_item(item_id, fields, created or now, now)
        etag = f"{token}-{revision}"
        connection.execute(sql.PUT, (store, item_id, encode(item), etag, created or now, now))
        return Written(item, etag, created is None)

    def delete(self, namespace: str, store: str, ids: builtins.list[int], *,
               if_match: Collection[str] | None = None) -> builtins.list[int]:
        """Delete the items of `ids` that exist; the ids deleted, in order.

        With `if_match`, every listed item must exist and match, or nothing is deleted.
        """
        check_name(store)
        path = self.path(namespace)
        if not ids or self._reader(namespace) is None:
            if if_match is not None and ids:
                raise PreconditionFailed()
            return []
        marks = ",".join("?" * len(ids))
        with self.databases.write(path) as connection:
            if if_match is not None:
                etags = dict(connection.execute(
                    f"SELECT id, etag FROM items WHERE store = ? AND id IN ({marks})", (store, *ids)).fetchall())
                for item_id in ids:
                    check_preconditions(etags.get(item_id), if_match)
            deleted = sorted(item_id for (item_id,) in connection.execute(
                f"DELETE FROM items WHERE store = ? AND id IN ({marks}) RETURNING id", (store, *ids)).fetchall())
            if deleted:
                connection.execute(sql.BUMP, {"store": store, "next": 1, "now": now_ms()}).fetchall()
        return deleted


def open_store(data_dir: Path, vfs: str | None = None, synchronous: str = "FULL") -> Store:
    """A Store on `data_dir`, created when missing (ConfigError naming DATA_DIR when it cannot be)."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"DATA_DIR: cannot create {data_dir}: {exc.strerror}") from None
    return Store(data_dir, Databases(vfs, synchronous, sql.create_schema, max_connections=OPEN_FILES_PER_THREAD,
                                       prepare=sqlite_query.prepare))
