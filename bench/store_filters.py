"""Filtered-list latency on a large store, in-process (no gateway): `python bench/store_filters.py`.

Fills one store with N items (default 100,000; `--items`) in a temporary data directory, then
times the first page (`_limit=10`, with X-Total-Count) of the common json-server queries through
the store service's Flask app, median and worst of `--runs` runs. The filters run inside SQLite,
so the cost is one scan of the store's rows for the count; no item is loaded into Python beyond
the page. `--postgres` runs the same queries with the store on a PostgreSQL server of its own
(bench/postgres.py): SQL on jsonb with its GIN and `updated` indexes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services" / "store"))
sys.path.insert(0, str(ROOT / "bench"))

from hipflask.state import state  # noqa: E402

from store import sqlite_sql  # noqa: E402
from store.wsgi import build  # noqa: E402

QUERIES = [
    "_limit=10",
    "views_gte=900&_limit=10",
    "views:lt=5&_limit=10",
    "views_ne=10&_limit=10",
    "title_like=^post 9999&_limit=10",
    "title:startsWith=post 4&_limit=10",
    "author.name=Ann&_limit=10",
    "q=needle&_limit=10",
    "views_gte=500&_sort=-views&_limit=10",
    "views_gte=500&_page=500&_per_page=10",
]


def items(count: int):
    names = ("Ann", "Bob", "Cid", "Dee")
    for item_id in range(1, count + 1):
        item = {"id": item_id, "title": f"post {item_id}", "views": item_id % 1000,
                "author": {"name": names[item_id % 4], "bio": "needle" if item_id % 5000 == 0 else "hay"},
                "created": item_id, "updated": item_id}
        yield item_id, json.dumps(item)


def fill(app, count: int) -> None:
    store = state(app).storage
    if hasattr(store, "database"):  # PostgreSQL
        from store import postgres_sql
        with store.database.transaction() as connection:
            connection.execute(postgres_sql.IMPORT_STORE, ("DEFAULT", "posts", "bench", count + 1, 1, count))
            connection.cursor().executemany(postgres_sql.IMPORT_ITEM, [
                ("DEFAULT", "posts", item_id, text, None, text, f"bench-{item_id}", item_id, item_id)
                for item_id, text in items(count)])
            connection.execute("ANALYZE store_items")
        return
    with store.databases.write(store.path("DEFAULT")) as connection:
        rows = [("posts", item_id, text, f"bench-{item_id}", item_id, item_id) for item_id, text in items(count)]
        connection.executemany(sqlite_sql.PUT, rows)
        connection.execute(sqlite_sql.BUMP, {"store": "posts", "next": count + 1, "now": count})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="the store on a PostgreSQL server of its own")
    args = parser.parse_args()
    database = None
    if args.postgres:
        from postgres import BenchPostgres
        database = BenchPostgres()
        database.start()
    try:
        return measure(args, {"DATABASE_URL": database.url} if database else {})
    finally:
        if database is not None:
            database.stop()


def measure(args, backend: dict) -> int:
    with tempfile.TemporaryDirectory(prefix="hipflask-filters-") as data:
        app = build({"DATA_DIR": data, "REDIS_URL": "redis://127.0.0.1:1/0", "LOG_LEVEL": "WARNING",
                     "REDIS_TIMEOUT": "0.05", **backend})
        started = time.perf_counter()
        fill(app, args.items)
        print(f"filled {args.items} items in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        print(f"| query (first page of {args.items:,} items) | matches | median ms | max ms |")
        print("| --- | ---: | ---: | ---: |")
        for query in QUERIES:
            times, total = [], None
            for _ in range(args.runs):
                started = time.perf_counter()
                response = client.get(f"/store/posts?{query}")
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.data
                total = response.headers["X-Total-Count"]
            print(f"| `{query}` | {total} | {statistics.median(times):.1f} | {max(times):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
