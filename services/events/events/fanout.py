"""One Redis reader per worker process fans the stream out to that worker's subscribers.

The reader XREADs `hipflask:events` (BLOCK) from the position it took when it started, parses each
entry once and offers it to every subscription; a subscriber that falls QUEUE_SIZE events
behind is disconnected (it reconnects with Last-Event-ID and replays). After a read that found
events the reader lets READ_INTERVAL pass before the next one, so under a heavy write load one
XREAD (and one write to each stream) carries every event of that interval instead of one each:
an idle stream's next event still comes at once, a busy one's within READ_INTERVAL. Under gunicorn's gevent
worker (WORKER_CLASS=gevent) the reader is a greenlet and each stream costs a greenlet, not a
thread; the same code runs on plain threads in the service tests.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import cast

import redis
from flask import Flask

from hipflask.config import Env
from hipflask.errors import HipflaskError
from hipflask.events import STREAM
from hipflask.health import add_ready_check
from hipflask.state import state

from events.event import StreamEntry, from_entry
from events.subscription import Subscription

log = logging.getLogger("hipflask.events.fanout")
BLOCK_MS = 1000
RETRY_SECONDS = 1.0
READ_INTERVAL = 0.005  # seconds between the reads of a busy stream: at most 200 XREADs a second


class Fanout:
    def __init__(self, redis_url: str, timeout: float, *, max_subscribers: int, heartbeat: float, retry_ms: int):
        # Blocking reads outlast the backplane's short timeout: a client of their own.
        self.client = redis.Redis.from_url(redis_url, socket_timeout=BLOCK_MS / 1000 + timeout + 5,
                                           socket_connect_timeout=max(timeout, 1.0))
        self.max_subscribers = max_subscribers
        self.heartbeat = heartbeat
        self.retry_ms = retry_ms
        self.subscriptions: set[Subscription] = set()
        self.lock = threading.Lock()
        self.reader: threading.Thread | None = None
        self.connection: redis.Connection | None = None  # the reader's own (one greenlet sends on it)
        self.stopping = False
        self.position: str | None = None
        self.dropped = 0

    def subscribe(self, subscription: Subscription) -> None:
        """Register a subscription (before its replay, so no live event falls between); 503 above the cap."""
        with self.lock:
            if len(self.subscriptions) >= self.max_subscribers:
                raise HipflaskError(503, "too_many_subscribers",
                                    f"this replica serves its maximum of {self.max_subscribers} subscribers",
                                    headers={"Retry-After": str(max(1, round(self.retry_ms / 1000)))})
            if self.reader is None:
                self.position = self._newest()
                self.reader = threading.Thread(target=self._read, name="events-reader", daemon=True)
                self.reader.start()
            self.subscriptions.add(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            self.subscriptions.discard(subscription)

    def count(self) -> int:
        return len(self.subscriptions)

    def stop(self) -> None:
        """The reader ends after its current XREAD (within BLOCK_MS)."""
        self.stopping = True

    def _newest(self) -> str:
        """The id the reader starts after: the stream's newest, or now when Redis cannot say."""
        try:
            newest = cast(list[StreamEntry], self.client.xrevrange(STREAM, count=1))
            return newest[0][0].decode() if newest else "0-0"
        except redis.RedisError as exc:
            log.warning("redis unreachable when the events reader started (%s); reading from now", exc)
            return f"{int(time.time() * 1000)}-0"

    def _read(self) -> None:
        assert self.position is not None  # subscribe() sets it before it starts the reader
        found_at = 0.0
        while not self.stopping:
            wait = found_at + READ_INTERVAL - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                entries = self._xread(self.position)
            except (redis.RedisError, OSError) as exc:
                self._disconnect()
                log.warning("events reader: redis unreachable (%s); retrying in %ss", exc, RETRY_SECONDS)
                time.sleep(RETRY_SECONDS)
                continue
            if entries:
                found_at = time.monotonic()
            for entry_id, fields in entries:
                self.position = entry_id.decode()
                event = from_entry(self.position, _field(fields, b"event").decode("utf-8", "replace"))
                if event is not None:
                    self._deliver(event)
        self._disconnect()

    def _xread(self, after: str) -> list[tuple[bytes, list[bytes]]]:
        """The entries after `after` (up to 1000; none within BLOCK_MS: []), each (id, [field, value, ...]).
        Sent on the reader's own connection, without the client's pool and retry layers: a read
        per READ_INTERVAL under load is the reader's main cost."""
        connection = self.connection
        if connection is None:
            connection = self.connection = cast(redis.Connection, self.client.connection_pool.make_connection())
        connection.send_command("XREAD", "COUNT", 1000, "BLOCK", BLOCK_MS, "STREAMS", STREAM, after)
        reply = connection.read_response()
        if not reply:
            return []
        streams = reply.values() if isinstance(reply, dict) else (entries for _, entries in reply)  # RESP3, RESP2
        return [(entry_id, fields) for entries in streams for entry_id, fields in entries]

    def _disconnect(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()
            self.connection = None

    def _deliver(self, event) -> None:
        for subscription in list(self.subscriptions):
            if not subscription.offer(event):
                self.dropped += 1
                self.unsubscribe(subscription)


def _field(fields: list[bytes] | dict[bytes, bytes], name: bytes) -> bytes:
    """A field's value in an entry's flat [name, value, ...] list (or a parsed dict)."""
    if isinstance(fields, dict):
        return fields.get(name, b"")
    for index in range(0, len(fields) - 1, 2):
        if fields[index] == name:
            return fields[index + 1]
    return b""


def init_app(app: Flask, env: Env) -> None:
    """Read EVENTS_MAX_SUBSCRIBERS, EVENTS_HEARTBEAT_SECONDS and EVENTS_RETRY_MS; make the worker's fanout."""
    settings = state(app).settings
    fanout = Fanout(settings.redis_url, settings.redis_timeout,
                    max_subscribers=env.int("EVENTS_MAX_SUBSCRIBERS", 2000, minimum=1),
                    heartbeat=env.float("EVENTS_HEARTBEAT_SECONDS", 15.0, minimum=0.05),
                    retry_ms=env.int("EVENTS_RETRY_MS", 2000, minimum=0))
    state(app).storage = fanout
    add_ready_check(app, "events_reader", lambda: fanout.reader is None or fanout.reader.is_alive())


def current_fanout() -> Fanout:
    """The Fanout of the app serving the current request's worker."""
    return state().storage
