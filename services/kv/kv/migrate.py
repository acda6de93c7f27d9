"""`python -m kv.migrate [--data-dir DIR]`: copy kv's SQLite namespaces into PostgreSQL, keeping
ETags, modification times, content types and expiry times (see `hipflask.migration`)."""
from __future__ import annotations

import sqlite3
import sys

from hipflask.migration import run
from hipflask.postgres import PostgresSettings

from kv.postgres import PostgresKV
from kv.storage import Item


def copy(settings: PostgresSettings, namespace: str, connection: sqlite3.Connection) -> tuple[int, int, int]:
    target = PostgresKV(settings, max_value_size=2**62).open()
    try:
        items = [Item(*row) for row in connection.execute(
            "SELECT key, value, content_type, etag, modified, expires FROM kv ORDER BY key")]
        copied = target.import_items(namespace, items)
        return copied, len(items), target.count(namespace)
    finally:
        target.close()


if __name__ == "__main__":
    sys.exit(run("kv", copy))
