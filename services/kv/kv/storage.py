"""Values by key in SQLite: one database file per namespace, one row per key.

Contract of `KVStore` (every method takes the namespace first, as `hipflask.namespace` makes it):
- A key is a non-empty string of at most MAX_KEY_BYTES UTF-8 bytes, without NUL and without `.`
  or `..` segments (segments are separated by `/`); any other key raises `BadKey` (400).
- `put` replaces the whole value of a key in one transaction: a reader sees the old value or the
  new one, never a mix. Each write gets a fresh ETag. A value declared JSON (`application/json`
  or `application/...+json`) must be valid UTF-8 JSON nested at most `max_json_depth` levels
  (`InvalidJson` or `hipflask.json_depth.TooDeep`, 400); a value longer than
  `max_value_size` raises `ValueTooLarge` (413). Nothing is stored when `put` raises.
- Conditions (`if_match`, `if_none_match`) are a collection of ETags or `ANY`; they are checked
  inside the write transaction, so of two writers holding the same ETag exactly one succeeds and
  the other gets `PreconditionFailed` (412).
- A value with a time to live reads as missing once it expires; expired rows are deleted by the
  next write to the namespace.
- Reads never create anything: a namespace's file `<data_dir>/<namespace>.sqlite3` is created by
  its first write.
- `keys(prefix)` scans the key index from `prefix` to the first string after every string that
  starts with it, so its cost grows with the keys under the prefix, not with the namespace.
"""
from __future__ import annotations

import functools
import os
import sqlite3
import time
from pathlib import Path
from typing import Collection, NamedTuple

from flask import Flask

from hipflask import json_depth
from hipflask.config import ConfigError, Env
from hipflask.errors import HipflaskError
from hipflask.health import add_ready_check
from hipflask.sqlite import Databases

MAX_KEY_BYTES = 1024
PATHS_CACHED = 4096
ANY = "*"
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


class BadKey(HipflaskError):
    def __init__(self, message: str):
        super().__init__(400, "bad_key", message)


class InvalidJson(HipflaskError):
    def __init__(self):
        super().__init__(400, "bad_json", "the body is declared JSON but is not valid JSON")


class ValueTooLarge(HipflaskError):
    def __init__(self, limit: int):
        super().__init__(413, "too_large", f"a value may hold at most {limit} bytes (KV_MAX_VALUE_SIZE)")


class PreconditionFailed(HipflaskError):
    def __init__(self, message: str):
        super().__init__(412, "precondition_failed", message)


class Item(NamedTuple):
    key: str
    value: bytes
    content_type: str
    etag: str
    modified: int  # epoch milliseconds
    expires: int | None  # epoch milliseconds


class Entry(NamedTuple):
    """A key's metadata, as listed."""
    key: str
    content_type: str
    size: int
    etag: str
    modified: int
    expires: int | None


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


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def is_json_type(content_type: str) -> bool:
    """True for `application/json` and `application/<anything>+json`, parameters ignored."""
    mimetype = content_type.partition(";")[0].strip().lower()
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def check_key(key: str, prefix: bool = False) -> None:
    """Raise BadKey unless `key` is a valid key (or, with `prefix`, the empty string or a key prefix)."""
    if not key and not prefix:
        raise BadKey("the key is empty")
    if "\x00" in key:
        raise BadKey("a key cannot contain NUL")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadKey("a key must be valid Unicode text") from None
    if size > MAX_KEY_BYTES:
        raise BadKey(f"a key is at most {MAX_KEY_BYTES} bytes long")
    if "." in key and any(segment in (".", "..") for segment in key.split("/")):
        raise BadKey("a key cannot contain . or .. segments")


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`; None when there is none."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code <= 0x10FFFF:
            if 0xD800 <= code <= 0xDFFF:  # surrogates are not text; the next character is U+E000
                code = 0xE000
            return "".join(chars) + chr(code)
    return None


def _check_json(value: bytes, max_depth: int) -> None:
    def reject(constant: str):
        raise ValueError(constant)
    try:
        json_depth.loads(value.decode("utf-8"), max_depth, parse_constant=reject)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidJson() from None


def _check_conditions(current: str | None, if_match: Collection[str] | None,
                      if_none_match: Collection[str] | None) -> None:
    if if_match is not None and (current is None or (if_match != ANY and current not in if_match)):
        raise PreconditionFailed("If-Match: the key's current ETag does not match" if current is not None
                                 else "If-Match: the key holds no value")
    if if_none_match is not None and current is not None and (if_none_match == ANY or current in if_none_match):
        raise PreconditionFailed("If-None-Match: the key already holds a value" if if_none_match == ANY
                                 else "If-None-Match: the key's current ETag matches")


class KVStore:
    """The values of every namespace, under `data_dir`."""

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
        if len(value) > self.max_value_size:
            raise ValueTooLarge(self.max_value_size)
        if is_json_type(content_type):
            _check_json(value, self.max_json_depth)
        etag = os.urandom(8).hex()
        with self.databases.write(self._path(namespace)) as connection:
            modified = now_ms()
            expires = modified + ttl * 1000 if ttl else None
            connection.execute(_PURGE, (modified,))
            if if_match is not None or if_none_match is not None:
                row = connection.execute("SELECT etag FROM kv WHERE key = ?", (key,)).fetchone()
                _check_conditions(row[0] if row else None, if_match, if_none_match)
            connection.execute(_UPSERT, (key, content_type, etag, len(value), modified, expires, value))
        return Item(key, value, content_type, etag, modified, expires)

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
            _check_conditions(row[0], if_match, None)
            connection.execute("DELETE FROM kv WHERE key = ?", (key,))
        return True

    def keys(self, namespace: str, prefix: str = "", limit: int | None = None) -> list[Entry]:
        """The live keys that start with `prefix`, sorted, at most `limit` of them."""
        check_key(prefix, prefix=True)
        connection = self.databases.connection(self._path(namespace))
        if connection is None:
            return []
        now, limit = now_ms(), -1 if limit is None else limit
        upper = _after_prefix(prefix)
        if upper is None:
            rows = connection.execute(_LIST_TO_END, (prefix, now, limit))
        else:
            rows = connection.execute(_LIST, (prefix, upper, now, limit))
        return [Entry._make(row) for row in rows]

    def ready(self) -> bool:
        """The data directory is writable and SQLite opens a database there."""
        if not os.access(self.data_dir, os.W_OK):
            raise RuntimeError(f"{self.data_dir} is not writable")
        connection = self.databases.connection(self.data_dir / READY_FILE, create=True)
        return connection.execute("SELECT count(*) FROM sqlite_master").fetchone() is not None


def init_app(app: Flask, env: Env) -> None:
    """Read KV_MAX_VALUE_SIZE and KV_SYNC, open the store and register its readiness check."""
    settings = app.extensions["hipflask"]
    max_value_size = env.size("KV_MAX_VALUE_SIZE", str(settings.max_body_size))
    if max_value_size > settings.max_body_size:
        raise ConfigError(f"KV_MAX_VALUE_SIZE: must not exceed MAX_BODY_SIZE ({settings.max_body_size} bytes), "
                          f"got {max_value_size}")
    synchronous = env.choice("KV_SYNC", "full", ("full", "normal"))
    store = KVStore(settings.data_dir, max_value_size=max_value_size, vfs=settings.sqlite_vfs,
                    synchronous=synchronous.upper(), max_json_depth=settings.max_json_depth)
    store.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        store.ready()
    except sqlite3.OperationalError as exc:
        raise ConfigError(f"SQLITE_VFS: SQLite cannot open a database in {store.data_dir} with it ({exc})") from None
    store.databases.close_all()  # connections belong to the threads that serve requests, not to start-up
    app.extensions["kv"] = store
    add_ready_check(app, "kv_storage", store.ready)
