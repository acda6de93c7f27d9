"""Values by key in PostgreSQL: one table for every namespace, shared by every replica.

The contract is `kv.storage.KVStorage`'s. The namespace is a column of the primary key
`(namespace, key)` rather than a schema per namespace: one set of tables and indexes, one
migration, statements a pooled session prepares once, and any number of namespaces (thousands of
schemas would weigh on the catalog and on every migration); every statement here names the
namespace, so namespaces stay isolated. Keys collate as "C" (bytewise), so a prefix listing is a
range scan of the primary key, exactly like SQLite's.

An unconditional write is one statement (the namespace's expired values are deleted by the same
statement), so it commits in one round trip. A conditional write or delete takes a
transaction-scoped advisory lock on its key first: of two writers holding the same ETag, the
second waits, then sees the first one's ETag, so exactly one wins even when the key had no value.
"""
from __future__ import annotations

import os
from collections.abc import Collection, Iterable

from hipflask import json_depth
from hipflask.clock import now_ms
from hipflask.conditional import check
from hipflask.postgres import Postgres, PostgresSettings, one_row

from kv.storage import Entry, Item, KVStorage, after_prefix, check_key

MIGRATIONS = (
    (
        """CREATE TABLE kv_values (
            namespace text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            content_type text NOT NULL,
            etag text NOT NULL,
            size integer NOT NULL,
            modified bigint NOT NULL,
            expires bigint,
            value bytea NOT NULL,
            PRIMARY KEY (namespace, key)
        )""",
        "CREATE INDEX kv_values_expires ON kv_values (namespace, expires) WHERE expires IS NOT NULL",
    ),
)

_SELECT = ("SELECT key, value, content_type, etag, modified, expires FROM kv_values "
           "WHERE namespace = %s AND key = %s")
_LIVE_ETAG = ("SELECT etag FROM kv_values WHERE namespace = %s AND key = %s "
              "AND (expires IS NULL OR expires > %s)")
_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
# Rows another write holds are skipped (that write or the next one deletes them): two writes that
# purge never wait for each other, so they cannot deadlock.
_PURGE = """DELETE FROM kv_values WHERE (namespace, key) IN (
    SELECT namespace, key FROM kv_values WHERE namespace = %(ns)s AND expires <= %(now)s AND key <> %(key)s
    FOR UPDATE SKIP LOCKED)"""
_UPSERT = f"""
    WITH purged AS ({_PURGE})
    INSERT INTO kv_values (namespace, key, content_type, etag, size, modified, expires, value)
    VALUES (%(ns)s, %(key)s, %(type)s, %(etag)s, %(size)s, %(now)s, %(expires)s, %(value)s)
    ON CONFLICT (namespace, key) DO UPDATE SET content_type = excluded.content_type, etag = excluded.etag,
        size = excluded.size, modified = excluded.modified, expires = excluded.expires, value = excluded.value"""
_DELETE = f"""
    WITH purged AS ({_PURGE})
    DELETE FROM kv_values WHERE namespace = %(ns)s AND key = %(key)s
        AND (expires IS NULL OR expires > %(now)s) RETURNING 1"""
_LIST = ("SELECT key, content_type, size, etag, modified, expires FROM kv_values "
         "WHERE namespace = %s AND key >= %s AND key < %s AND (expires IS NULL OR expires > %s) ORDER BY key LIMIT %s")
_LIST_TO_END = ("SELECT key, content_type, size, etag, modified, expires FROM kv_values "
                "WHERE namespace = %s AND key >= %s AND (expires IS NULL OR expires > %s) ORDER BY key LIMIT %s")
_IMPORT = """
    INSERT INTO kv_values (namespace, key, content_type, etag, size, modified, expires, value)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (namespace, key) DO NOTHING"""


class PostgresKV(KVStorage):
    """The values of every namespace in one PostgreSQL database."""

    def __init__(self, settings: PostgresSettings, *, max_value_size: int,
                 max_json_depth: int = json_depth.DEFAULT_MAX_JSON_DEPTH):
        self.max_value_size = max_value_size
        self.max_json_depth = max_json_depth
        self.database = Postgres(settings, "kv", MIGRATIONS)

    def open(self) -> PostgresKV:
        self.database.open()
        return self

    def close(self) -> None:
        self.database.close()

    def get(self, namespace: str, key: str) -> Item | None:
        check_key(key)
        with self.database.connection() as connection:
            row = connection.execute(_SELECT, (namespace, key), binary=True).fetchone()
        if row is None or (row[5] is not None and row[5] <= now_ms()):
            return None
        return Item(row[0], bytes(row[1]), *row[2:])

    def put(self, namespace: str, key: str, value: bytes, content_type: str, *, ttl: int | None = None,
            if_match: Collection[str] | None = None, if_none_match: Collection[str] | None = None) -> Item:
        check_key(key)
        self.check_value(value, content_type)
        etag = os.urandom(8).hex()
        conditional = if_match is not None or if_none_match is not None
        with (self.database.transaction() if conditional else self.database.connection()) as connection:
            if conditional:
                connection.execute(_LOCK_KEY, (f"{namespace}/{key}",))
            modified = now_ms()
            expires = modified + ttl * 1000 if ttl else None
            if conditional:
                row = connection.execute(_LIVE_ETAG, (namespace, key, modified)).fetchone()
                check(row[0] if row else None, if_match, if_none_match, what="the key")
            connection.execute(_UPSERT, {"ns": namespace, "key": key, "type": content_type, "etag": etag,
                                         "size": len(value), "now": modified, "expires": expires, "value": value})
        return Item(key, value, content_type, etag, modified, expires)

    def delete(self, namespace: str, key: str, *, if_match: Collection[str] | None = None) -> bool:
        check_key(key)
        with (self.database.transaction() if if_match is not None else self.database.connection()) as connection:
            now = now_ms()
            if if_match is not None:
                connection.execute(_LOCK_KEY, (f"{namespace}/{key}",))
                row = connection.execute(_LIVE_ETAG, (namespace, key, now)).fetchone()
                if row is None:
                    return False
                check(row[0], if_match, what="the key")
            return connection.execute(_DELETE, {"ns": namespace, "key": key, "now": now}).fetchone() is not None

    def keys(self, namespace: str, prefix: str = "", limit: int | None = None) -> list[Entry]:
        check_key(prefix, prefix=True)
        upper = after_prefix(prefix)
        with self.database.connection() as connection:
            if upper is None:
                rows = connection.execute(_LIST_TO_END, (namespace, prefix, now_ms(), limit)).fetchall()
            else:
                rows = connection.execute(_LIST, (namespace, prefix, upper, now_ms(), limit)).fetchall()
        return [Entry._make(row) for row in rows]

    def ready(self) -> bool:
        return self.database.ready()

    def import_items(self, namespace: str, items: Iterable[Item]) -> int:
        """Copy `items` into `namespace` as they are (ETags and times kept); keys already present are
        left alone. The number of items copied."""
        copied = 0
        with self.database.transaction() as connection:
            for item in items:
                cursor = connection.execute(_IMPORT, (namespace, item.key, item.content_type, item.etag,
                                                      len(item.value), item.modified, item.expires, item.value))
                copied += cursor.rowcount
        return copied

    def count(self, namespace: str) -> int:
        """How many values the namespace holds, expired ones included."""
        with self.database.connection() as connection:
            return one_row(connection.execute("SELECT count(*) FROM kv_values WHERE namespace = %s",
                                              (namespace,)))[0]
