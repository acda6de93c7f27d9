"""`python -m store.migrate [--data-dir DIR]`: copy the store's SQLite namespaces into PostgreSQL,
keeping ids, next ids, revisions (so ETags), timestamps and every item's text (see `hipflask.migration`)."""
from __future__ import annotations

import sqlite3
import sys

from hipflask.migration import run
from hipflask.postgres import PostgresSettings

from store.postgres import PostgresStore


def copy(settings: PostgresSettings, namespace: str, connection: sqlite3.Connection) -> tuple[int, int, int]:
    target = PostgresStore(settings).open()
    copied = in_sqlite = in_postgres = 0
    try:
        stores = connection.execute("SELECT name, token, next_id, revision, modified FROM stores ORDER BY name")
        for name, token, next_id, revision, modified in stores.fetchall():
            items = connection.execute("SELECT id, data, etag, created, updated FROM items WHERE store = ? "
                                       "ORDER BY id", (name,)).fetchall()
            copied += target.import_store(namespace, name, token, next_id, revision, modified, items)
            in_sqlite += len(items)
            in_postgres += target.count(namespace, name)
        return copied, in_sqlite, in_postgres
    finally:
        target.close()


if __name__ == "__main__":
    sys.exit(run("store", copy))
