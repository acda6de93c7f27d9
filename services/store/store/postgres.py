"""The store's PostgreSQL backend: every namespace's stores in one database shared by every replica.

The contract is `store.storage.StoreStorage`'s. The namespace is a column (the first of every
primary key and index) rather than a schema per namespace: one set of tables, indexes and
migrations whatever the number of namespaces (a schema each would multiply the catalog and every
migration by the number of users), statements a pooled session prepares once, and isolation
that holds because every statement of `store.postgres_sql` names the namespace.

Writes of one store serialise on the store's row in `store_stores` (each write upserts it first,
inside its transaction): ids come from its `next_id`, `updated` from its `modified` (never less
than the previous one plus 1 ms), ETags from its token and revision, exactly as in SQLite. An
append is a single statement; a merge, replace or delete is one transaction. A list is one
statement (`postgres_sql.list_page`), so the version, the page and the count come from one
snapshot in one round trip, without an explicit transaction.
"""
from __future__ import annotations

import builtins
import json
import os
from collections.abc import Callable, Collection, Iterable

import psycopg

from hipflask.clock import now_ms
from hipflask.conditional import PreconditionFailed
from hipflask.errors import HipflaskError
from hipflask.postgres import Postgres, PostgresSettings, one_row

from store import postgres_sql as sql
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
from store.query import Query, bad_query
from store.storage import EMPTY_VERSION, StoreStorage


def _token() -> str:
    return os.urandom(6).hex()


class PostgresStore(StoreStorage):
    """The stores of every namespace in one PostgreSQL database."""

    def __init__(self, settings: PostgresSettings):
        self.database = Postgres(settings, "store", sql.MIGRATIONS)

    def open(self) -> PostgresStore:
        self.database.open()
        return self

    def close(self) -> None:
        self.database.close()

    def ready(self) -> bool:
        return self.database.ready()

    # Reads

    def get(self, namespace: str, store: str, item_id: int) -> Item | None:
        check_name(store)
        with self.database.connection() as connection:
            row = connection.execute(sql.GET, (namespace, store, item_id)).fetchone()
        return Item(*row) if row else None

    def stores(self, namespace: str) -> list[dict]:
        with self.database.connection() as connection:
            rows = connection.execute(sql.STORES, (namespace,)).fetchall()
        return [{"name": name, "count": count} for name, count in rows]

    def list(self, namespace: str, store: str, query: Query = Query(),
             not_modified: Callable[[str], bool] | None = None) -> Page:
        check_name(store)
        try:
            with self.database.connection() as connection:
                if not_modified is not None:  # a conditional read: the version alone first, the page only if changed
                    row = connection.execute(sql.VERSION, (namespace, store)).fetchone()
                    version = f"{row[0]}-{row[1]}" if row else EMPTY_VERSION
                    if not_modified(version):
                        return Page(version, None, None)
                statement, params = sql.list_page(namespace, store, query)
                token, revision, bodies, count, total = one_row(connection.execute(statement, params))
        except psycopg.errors.InvalidRegularExpression as exc:  # Python's re took it, PostgreSQL's does not
            raise bad_query(
                f"_like: PostgreSQL cannot run this regular expression ({exc.diag.message_primary})") from None
        if token is None:
            return Page(EMPTY_VERSION, [], 0)
        items = bodies.split(sql.ITEM_SEPARATOR) if bodies is not None else []
        return Page(f"{token}-{revision}", items, query.offset + count if total is None else total)

    # Writes

    def append_written(self, namespace: str, store: str, fields: dict) -> Written:
        check_name(store)
        fields = client_fields(fields)
        text = encode(fields)[1:-1]
        text = text + "," if text else ""
        with self.database.connection() as connection:
            row = connection.execute(sql.APPEND, {"ns": namespace, "store": store, "token": _token(), "now": now_ms(),
                                                  "fields": text, "query_fields": sql.query_text(text),
                                                  "max_id": MAX_ID}).fetchone()
        if row is None:
            raise HipflaskError(409, "ids_exhausted", f"store {store!r} has used every id up to {MAX_ID}")
        return Written(make_item(row[0], fields, row[1], row[1]), row[2], True)

    def merge(self, namespace: str, store: str, item_id: int, patch: dict, *, rfc7396: bool = False,
              if_match: Collection[str] | None = None) -> Written:
        check_name(store)
        patch = client_fields(patch)
        with self.database.transaction() as connection:
            bump = self._bump(connection, namespace, store, item_id + 1)
            row = connection.execute(sql.GET_FOR_WRITE, (namespace, store, item_id)).fetchone()
            check_preconditions(row[1] if row else None, if_match)
            old = client_fields(json.loads(row[0])) if row else {}
            fields = merge_patch(old, patch) if rfc7396 else merge_fields(old, patch)
            return self._put(connection, namespace, store, item_id, fields, row[2] if row else None, bump)

    def replace(self, namespace: str, store: str, item_id: int, fields: dict, *,
                if_match: Collection[str] | None = None, create_only: bool = False) -> Written:
        check_name(store)
        fields = client_fields(fields)
        with self.database.transaction() as connection:
            bump = self._bump(connection, namespace, store, item_id + 1)
            row = connection.execute(sql.GET_FOR_WRITE, (namespace, store, item_id)).fetchone()
            check_preconditions(row[1] if row else None, if_match, create_only)
            return self._put(connection, namespace, store, item_id, fields, row[2] if row else None, bump)

    @staticmethod
    def _bump(connection: psycopg.Connection, namespace: str, store: str, next_id: int) -> tuple:
        """Lock the store's row and take the write's revision, time and token."""
        return one_row(connection.execute(sql.BUMP, {"ns": namespace, "store": store, "token": _token(),
                                                     "next": next_id, "now": now_ms()}))

    @staticmethod
    def _put(connection: psycopg.Connection, namespace: str, store: str, item_id: int, fields: dict,
             created: int | None, bump: tuple) -> Written:
        revision, now, token = bump
        item = make_item(item_id, fields, created or now, now)
        etag = f"{token}-{revision}"
        body = encode(item)
        connection.execute(sql.PUT, {"ns": namespace, "store": store, "id": item_id, "body": body,
                                     "query_body": sql.query_text(body), "etag": etag, "created": created or now,
                                     "updated": now})
        return Written(item, etag, created is None)

    def delete(self, namespace: str, store: str, ids: builtins.list[int], *,
               if_match: Collection[str] | None = None) -> builtins.list[int]:
        check_name(store)
        if not ids:
            return []
        with self.database.transaction() as connection:
            if connection.execute(sql.LOCK_STORE, (namespace, store)).fetchone() is None:
                if if_match is not None:
                    raise PreconditionFailed()
                return []
            if if_match is not None:
                etags = dict(connection.execute(sql.ETAGS, (namespace, store, ids)).fetchall())
                for item_id in ids:
                    check_preconditions(etags.get(item_id), if_match)
            deleted = sorted(item_id for (item_id,) in connection.execute(sql.DELETE, (namespace, store, ids)))
            if deleted:
                self._bump(connection, namespace, store, 1)
        return deleted

    # Moving data in (the migration from SQLite)

    def import_store(self, namespace: str, name: str, token: str, next_id: int, revision: int, modified: int,
                     items: Iterable[tuple[int, str, str, int, int]]) -> int:
        """Copy a store as it is (token, next id, revision, and each item's `(id, text, etag, created,
        updated)`); what is already present is left alone. The number of items copied."""
        copied = 0
        with self.database.transaction() as connection:
            connection.execute(sql.IMPORT_STORE, (namespace, name, token, next_id, revision, modified))
            for item_id, text, etag, created, updated in items:
                copied += connection.execute(sql.IMPORT_ITEM, (namespace, name, item_id, text, sql.query_text(text),
                                                               text, etag, created, updated)).rowcount
        return copied

    def count(self, namespace: str, store: str) -> int:
        with self.database.connection() as connection:
            return one_row(connection.execute("SELECT count(*) FROM store_items WHERE namespace = %s AND store = %s",
                                              (namespace, store)))[0]
