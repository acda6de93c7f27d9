"""What one subscriber asked for: its namespace, its filters, and its queue of live events.

Filters combine: `family` picks families; `store`, `key_prefix` and `path_prefix` narrow the
events of their own family (store; kv; fs and template) and, without `family`, pick those
families too. A subscriber sees the events of its own namespace, and the fs and template events
(shared by every namespace).
"""
from __future__ import annotations

import queue
from dataclasses import dataclass

from hipflask.errors import HipflaskError

from events.event import FAMILIES, Event

PARAMETERS = frozenset(("family", "store", "key_prefix", "path_prefix", "uid", "access_token", "lastEventId", "since"))
QUEUE_SIZE = 10000  # live events a subscriber may lag behind before it is disconnected (it then replays)


@dataclass(frozen=True)
class Filters:
    families: frozenset[str]
    stores: frozenset[str] | None = None
    key_prefix: str | None = None
    path_prefix: str | None = None

    @classmethod
    def parse(cls, args) -> Filters:
        """The filters of a query string; 400 for an unknown parameter or family."""
        unknown = sorted(set(args) - PARAMETERS)
        if unknown:
            raise HipflaskError(400, "unknown_filter", f"unknown filter {unknown[0]!r}; known: "
                                f"{', '.join(sorted(PARAMETERS))}", extra={"filter": unknown[0]})
        stores = _names(args.get("store"))
        key_prefix = args.get("key_prefix") or None
        path_prefix = args.get("path_prefix") or None
        families = _names(args.get("family"))
        if families is not None:
            bad = sorted(families - set(FAMILIES))
            if bad:
                raise HipflaskError(400, "bad_filter", f"unknown family {bad[0]!r}; families: {', '.join(FAMILIES)}",
                                    extra={"filter": "family"})
        else:
            implied = ({"store"} if stores else set()) | ({"kv"} if key_prefix else set()) | (
                {"fs", "template"} if path_prefix else set())
            families = frozenset(implied or FAMILIES)
        return cls(frozenset(families), stores, key_prefix, path_prefix)

    def matches(self, event: Event) -> bool:
        family = event.family
        if family not in self.families:
            return False
        data = event.data
        if family == "store":
            return self.stores is None or data.get("store") in self.stores
        if family == "kv":
            return self.key_prefix is None or str(data.get("key", "")).startswith(self.key_prefix)
        if family in ("fs", "template"):
            return self.path_prefix is None or _path_matches(family, str(data.get("path", "")), self.path_prefix)
        return True


def _names(value: str | None) -> frozenset[str] | None:
    if value is None or not value.strip():
        return None
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def _path_matches(family: str, path: str, prefix: str) -> bool:
    """`photos/` matches `/fs/photos/...` (and a partition `photos`); a prefix with a leading `/`
    matches the URL path as is."""
    if prefix.startswith("/"):
        return path.startswith(prefix)
    relative = path.lstrip("/")
    if family == "fs" and relative.startswith("fs/"):
        relative = relative[3:]
    return relative.startswith(prefix)


class Subscription:
    """One open stream: the events of `namespace` that pass `filters`, queued by the worker's reader."""

    def __init__(self, namespace: str, filters: Filters):
        self.namespace = namespace
        self.filters = filters
        self.queue: queue.Queue[Event | None] = queue.Queue(QUEUE_SIZE)
        self.overflowed = False
        self.hung_up = False

    @property
    def open(self) -> bool:
        return not (self.overflowed or self.hung_up)

    def hang_up(self) -> None:
        """The client went away: wake the stream (a None in its queue) so it ends now, freeing its
        place under EVENTS_MAX_SUBSCRIBERS, instead of at its next heartbeat."""
        self.hung_up = True
        try:
            self.queue.put_nowait(None)
        except queue.Full:  # a stream this far behind is woken by its next event anyway
            pass

    def wants(self, event: Event) -> bool:
        return (event.is_global or event.namespace == self.namespace) and self.filters.matches(event)

    def offer(self, event: Event) -> bool:
        """Queue the event when wanted; False when the queue is full (the subscriber fell behind)."""
        if not self.wants(event):
            return True
        try:
            self.queue.put_nowait(event)
            return True
        except queue.Full:
            self.overflowed = True
            return False
