"""The store's storage: named lists of JSON items per namespace, in SQLite.

One database file per namespace, `<data_dir>/<namespace>.sqlite3`, created by the namespace's
first write; reading a namespace or a store that does not exist answers empty (or None) and
creates nothing. A file holds two tables: `stores`, one row per store (the next id, a revision
bumped by every change, the time of the last change, and a random token so that a store
recreated from scratch never repeats an ETag of its previous life), and `items`.

The contract every caller relies on:

- Store names are `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`; ids are integers from 1 to 2**53-1 (exact
  in JavaScript). Anything else is a HipflaskError(400).
- An append takes its id inside the write transaction: the higher of the store's next id and
  the largest id present plus one. Ids are unique across threads, workers and replicas and never
  reused after a delete; writing an item with an explicit id raises the next id above it.
- An item is the client's JSON object plus `id`, `created` and `updated` (epoch milliseconds,
  kept by the store; client values for these three keys are ignored). `updated` strictly
  increases within a store, so a reader that asks for changes `_since` the latest `updated` it
  saw never misses a later write.
- Every write of an item gives it a new etag; every write or delete in a store changes the
  store's version. `if_match` (a set of etags, `*` for any) is checked inside the write
  transaction: a mismatch raises PreconditionFailed (412) and writes nothing.
- Every write is one BEGIN IMMEDIATE transaction (hipflask.sqlite.Databases): a merge is a
  read-modify-write under the write lock, a failure leaves nothing half-written, and the commit
  is fsynced (STORE_SYNC=full) before the call returns.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Collection, NamedTuple

from flask import Flask

from hipflask.config import ConfigError, Env
from hipflask.convert import convert_value
from hipflask.errors import HipflaskError
from hipflask.health import add_ready_check
from hipflask.sqlite import Databases

from store.query import Query

MAX_ID = 2**53 - 1
MAX_IDS_PER_DELETE = 1000
OPEN_FILES_PER_THREAD = 32
PATHS_CACHED = 4096
KEPT = ("id", "created", "updated")
EMPTY_VERSION = "0"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ID = re.compile(r"[0-9]{1,16}")
_COLUMNS = frozenset(KEPT)

_SCHEMA = (
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
_TAKE_ID = """
    INSERT INTO stores (name, token, next_id, revision, modified)
    VALUES (:store, lower(hex(randomblob(6))),
            (SELECT coalesce(max(id), 0) + 2 FROM items WHERE store = :store), 1, :now)
    ON CONFLICT (name) DO UPDATE SET
        next_id = max(next_id, excluded.next_id - 1) + 1,
        revision = revision + 1,
        modified = max(excluded.modified, modified + 1)
    RETURNING next_id - 1, revision, modified, token"""
_BUMP = """
    INSERT INTO stores (name, token, next_id, revision, modified)
    VALUES (:store, lower(hex(randomblob(6))), :next, 1, :now)
    ON CONFLICT (name) DO UPDATE SET
        next_id = max(next_id, excluded.next_id),
        revision = revision + 1,
        modified = max(excluded.modified, modified + 1)
    RETURNING revision, modified, token"""
_PUT = """
    INSERT INTO items (store, id, data, etag, created, updated) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (store, id) DO UPDATE SET data = excluded.data, etag = excluded.etag, updated = excluded.updated"""
_GET = "SELECT data, etag FROM items WHERE store = ? AND id = ?"
_MATCHES = """CASE json_type(data, :{p}) WHEN 'text' THEN json_extract(data, :{p}) = :{r}
    WHEN 'integer' THEN json_extract(data, :{p}) = :{n} WHEN 'real' THEN json_extract(data, :{p}) = :{n}
    WHEN 'true' THEN :{r} = 'true' WHEN 'false' THEN :{r} = 'false' WHEN 'null' THEN :{r} = 'null'
    ELSE 0 END"""


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


class PreconditionFailed(HipflaskError):
    def __init__(self, message: str = "the item does not match If-Match / If-None-Match"):
        super().__init__(412, "precondition_failed", message)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise HipflaskError(400, "bad_store_name",
                            "a store name is 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit")
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


def _encode(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise HipflaskError(400, "bad_json", "numbers must be finite (NaN and Infinity are not JSON)") from None


def _client_fields(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if key not in KEPT}


def _item(item_id: int, fields: dict, created: int, updated: int) -> dict:
    return {"id": item_id, **fields, "created": created, "updated": updated}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _check(etag: str | None, if_match: Collection[str] | None, create_only: bool = False) -> None:
    if create_only and etag is not None:
        raise PreconditionFailed("the item exists (If-None-Match: *)")
    if if_match is not None and (etag is None or ("*" not in if_match and etag not in if_match)):
        raise PreconditionFailed()


def _json_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{segment}"' for segment in path)


def _schema(connection: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        connection.execute(statement)


class Store:
    """The stores of every namespace under `data_dir`."""

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

    def _reader(self, namespace: str) -> sqlite3.Connection | None:
        return self.databases.connection(self.path(namespace))

    # Reads

    def get(self, namespace: str, store: str, item_id: int) -> Item | None:
        """The item, or None when the namespace, the store or the item does not exist."""
        check_name(store)
        connection = self._reader(namespace)
        if connection is None:
            return None
        row = connection.execute(_GET, (store, item_id)).fetchone()
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
            where, params = _where(store, query)
            params["limit"] = -1 if query.limit is None else query.limit
            params["offset"] = query.offset
            items = [text for (text,) in connection.execute(
                f"SELECT data FROM items WHERE {where} ORDER BY {_order(query, params)} "
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
        check_name(store)
        fields = _client_fields(fields)
        text = _encode(fields)[1:-1]
        text = text + "," if text else ""
        with self.databases.write(self.path(namespace)) as connection:
            item_id, revision, now, token = connection.execute(
                _TAKE_ID, {"store": store, "now": _now_ms()}).fetchall()[0]
            if item_id > MAX_ID:
                raise HipflaskError(409, "ids_exhausted", f"store {store!r} has used every id up to {MAX_ID}")
            connection.execute(_PUT, (store, item_id, f'{{"id":{item_id},{text}"created":{now},"updated":{now}}}',
                                      f"{token}-{revision}", now, now))
        return _item(item_id, fields, now, now)

    def merge(self, namespace: str, store: str, item_id: int, patch: dict, *, rfc7396: bool = False,
              if_match: Collection[str] | None = None) -> Written:
        """Merge `patch` into the item, creating it when missing.

        The original's merge (a null or "null" field removes it, nested objects are replaced), or
        with `rfc7396` a JSON Merge Patch (nested objects merge, only null removes).
        """
        check_name(store)
        patch = _client_fields(patch)
        with self.databases.write(self.path(namespace)) as connection:
            row = connection.execute("SELECT data, etag, created FROM items WHERE store = ? AND id = ?",
                                     (store, item_id)).fetchone()
            _check(row and row[1], if_match)
            old = _client_fields(json.loads(row[0])) if row else {}
            fields = merge_patch(old, patch) if rfc7396 else merge_fields(old, patch)
            return self._put(connection, store, item_id, fields, row and row[2])

    def replace(self, namespace: str, store: str, item_id: int, fields: dict, *,
                if_match: Collection[str] | None = None, create_only: bool = False) -> Written:
        """Replace the item whole (keeping `created`), creating it when missing.

        `create_only` (If-None-Match: *) refuses to replace an existing item.
        """
        check_name(store)
        fields = _client_fields(fields)
        with self.databases.write(self.path(namespace)) as connection:
            row = connection.execute("SELECT etag, created FROM items WHERE store = ? AND id = ?",
                                     (store, item_id)).fetchone()
            _check(row and row[0], if_match, create_only)
            return self._put(connection, store, item_id, fields, row and row[1])

    def _put(self, connection: sqlite3.Connection, store: str, item_id: int, fields: dict,
             created: int | None) -> Written:
        revision, now, token = connection.execute(
            _BUMP, {"store": store, "next": item_id + 1, "now": _now_ms()}).fetchall()[0]
        item = _item(item_id, fields, created or now, now)
        etag = f"{token}-{revision}"
        connection.execute(_PUT, (store, item_id, _encode(item), etag, created or now, now))
        return Written(item, etag, created is None)

    def delete(self, namespace: str, store: str, ids: list[int], *,
               if_match: Collection[str] | None = None) -> list[int]:
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
                    _check(etags.get(item_id), if_match)
            deleted = sorted(item_id for (item_id,) in connection.execute(
                f"DELETE FROM items WHERE store = ? AND id IN ({marks}) RETURNING id", (store, *ids)).fetchall())
            if deleted:
                connection.execute(_BUMP, {"store": store, "next": 1, "now": _now_ms()}).fetchall()
        return deleted


def _value(path: tuple[str, ...], params: dict) -> str:
    if len(path) == 1 and path[0] in _COLUMNS:
        return path[0]
    name = f"p{len(params)}"
    params[name] = _json_path(path)
    return f"json_extract(data, :{name})"


def _where(store: str, query: Query) -> tuple[str, dict]:
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


def _order(query: Query, params: dict) -> str:
    keys = [f"{_value(path, params)} {'DESC' if descending else 'ASC'}" for path, descending in query.sort]
    if not any(path == ("id",) for path, _ in query.sort):
        keys.append("id ASC")
    return ", ".join(keys)


def open_store(data_dir: Path, vfs: str | None = None, synchronous: str = "FULL") -> Store:
    """A Store on `data_dir`, created when missing (ConfigError naming DATA_DIR when it cannot be)."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"DATA_DIR: cannot create {data_dir}: {exc.strerror}") from None
    return Store(data_dir, Databases(vfs, synchronous, _schema, max_connections=OPEN_FILES_PER_THREAD))


def init_app(app: Flask, env: Env) -> None:
    """Read STORE_SYNC, open the Store on the service's data directory and put it on the app."""
    settings = app.extensions["hipflask"]
    synchronous = env.choice("STORE_SYNC", "full", ("full", "normal")).upper()
    store = open_store(settings.data_dir, settings.sqlite_vfs, synchronous)
    app.extensions["store"] = store
    add_ready_check(app, "data_dir", lambda: os.access(store.data_dir, os.W_OK | os.X_OK))
