"""json-server 0.17's relations between the stores of one namespace: `_embed` and `_expand`.

- `_embed=comments` on a store `posts` adds to each item the list `comments`: the items of the
  store `comments` whose `postId` (the singular of the store's name, then `Id`) equals its id.
- `_expand=post` adds to each item the object `post`: the item of the store `posts` (the plural)
  whose id is the item's `postId`; an item whose parent does not exist gets no `post`.

Singular and plural are English's regular forms (`posts`/`post`, `categories`/`category`), as
json-server's pluralize gives them for regular nouns. A foreign key matches the number and its
string (`"postId": "1"` names post 1). Each relation is one read of the related store, whatever
the number of items.
"""
from __future__ import annotations

import json
from collections import defaultdict

from hipflask.convert import convert_value

from store.items import check_name
from store.query import Filter, Query
from store.storage import StoreStorage

_VOWELS = frozenset("aeiou")


def singular(name: str) -> str:
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and len(name) > 1 else name


def plural(name: str) -> str:
    if name.endswith("y") and len(name) > 1 and name[-2] not in _VOWELS:
        return name[:-1] + "ies"
    return name if name.endswith("s") else name + "s"


def _key(value) -> str | None:
    value = convert_value(value) if isinstance(value, str) else value
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


def add_related(store: StoreStorage, namespace: str, name: str, items: list[dict], query: Query) -> list[str]:
    """Add the relations `query` asks for to `items` (items of store `name`) in place; the versions
    of the related stores read, in order, so that an ETag can change when they do."""
    versions = []
    for children in query.embed:
        check_name(children)
        foreign_key = singular(name) + "Id"
        ids = tuple(dict.fromkeys(str(item["id"]) for item in items))
        found = store.list(namespace, children, Query(filters=(Filter((foreign_key,), ids, "in"),))) if ids else None
        groups: dict[str | None, list] = defaultdict(list)
        for text in (found.items or ()) if found else ():
            child = json.loads(text)
            groups[_key(child.get(foreign_key))].append(child)
        for item in items:
            item[children] = groups.get(str(item["id"]), [])
        versions.append(found.version if found else "")
    for parent in query.expand:
        check_name(plural(parent))
        foreign_key = parent + "Id"
        ids = tuple(dict.fromkeys(key for key in (_key(item.get(foreign_key)) for item in items) if key))
        found = store.list(namespace, plural(parent), Query(filters=(Filter(("id",), ids, "in"),))) if ids else None
        parents = {str(entry["id"]): entry for entry in map(json.loads, (found.items or ()) if found else ())}
        for item in items:
            key = _key(item.get(foreign_key))
            if key in parents:
                item[parent] = parents[key]
        versions.append(found.version if found else "")
    return versions
