"""The store's storage contract: named lists of JSON items per namespace, whatever backend keeps them.

`StoreStorage` is the interface the routes use; `store.db` (SQLite, one file per namespace, the
default) and `store.postgres` implement it, and `store.backends` picks one from the configuration.

The contract every caller relies on:

- Names, ids, the kept fields, merges and preconditions follow `store.items`; list queries
  (filters, sort, paging, `_since`) follow `store.query`.
- Reading a namespace or a store that does not exist answers empty (or None) and creates nothing.
- An append takes its id inside the write transaction: the higher of the store's next id and
  the largest id present plus one. Ids are unique across threads, workers and replicas and never
  reused after a delete; writing an item with an explicit id raises the next id above it.
- An item is the client's JSON object plus `id`, `created` and `updated` (epoch milliseconds,
  kept by the store; client values for these three keys are ignored). `updated` strictly
  increases within a store, so a reader that asks for changes `_since` the latest `updated` it
  saw never misses a later write.
- Every write of an item gives it a new etag; every write or delete in a store changes the
  store's version (a store recreated from scratch never repeats an ETag of its previous life).
  `if_match` (a set of etags, `*` for any) is checked inside the write transaction: a mismatch
  raises PreconditionFailed (412) and writes nothing; of two writers holding the same etag
  exactly one wins.
- Every write is one transaction: a merge is an atomic read-modify-write, a failure leaves
  nothing half-written, and the commit is durable before the call returns.
"""
from __future__ import annotations

import builtins
from collections.abc import Callable, Collection

from hipflask.state import state

from store.items import Item, Page, Written
from store.query import Query

EMPTY_VERSION = "0"


class StoreStorage:
    """The stores of every namespace. Implementations: `store.db.Store`, `store.postgres.PostgresStore`."""

    def get(self, namespace: str, store: str, item_id: int) -> Item | None:
        """The item, or None when the namespace, the store or the item does not exist."""
        raise NotImplementedError

    def stores(self, namespace: str) -> list[dict]:
        """`[{"name", "count"}]` for every store of the namespace that holds items, by name."""
        raise NotImplementedError

    def list(self, namespace: str, store: str, query: Query = Query(),
             not_modified: Callable[[str], bool] | None = None) -> Page:
        """The items `query` selects, ordered and paged, read in one snapshot with the store's version.

        `not_modified(version)` is asked first; when it answers True no item is read.
        """
        raise NotImplementedError

    def append(self, namespace: str, store: str, fields: dict) -> dict:
        """Add an item with the next id; the stored item (with id, created, updated)."""
        return self.append_written(namespace, store, fields).item

    def append_written(self, namespace: str, store: str, fields: dict) -> Written:
        """`append`, answering the stored item with its etag."""
        raise NotImplementedError

    def merge(self, namespace: str, store: str, item_id: int, patch: dict, *, rfc7396: bool = False,
              if_match: Collection[str] | None = None) -> Written:
        """Merge `patch` into the item, creating it when missing.

        The original's merge (a null or "null" field removes it, nested objects are replaced), or
        with `rfc7396` a JSON Merge Patch (nested objects merge, only null removes).
        """
        raise NotImplementedError

    def replace(self, namespace: str, store: str, item_id: int, fields: dict, *,
                if_match: Collection[str] | None = None, create_only: bool = False) -> Written:
        """Replace the item whole (keeping `created`), creating it when missing.

        `create_only` (If-None-Match: *) refuses to replace an existing item.
        """
        raise NotImplementedError

    def delete(self, namespace: str, store: str, ids: builtins.list[int], *,
               if_match: Collection[str] | None = None) -> builtins.list[int]:
        """Delete the items of `ids` that exist; the ids deleted, in order.

        With `if_match`, every listed item must exist and match, or nothing is deleted.
        """
        raise NotImplementedError

    def ready(self) -> bool:
        """True when the backend can serve reads and writes now; raises (naming what failed) otherwise."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the backend's connections."""


def current_store() -> StoreStorage:
    """The store storage of the app serving the current request."""
    return state().storage
