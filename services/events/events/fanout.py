"""One Redis reader per worker process fans the stream out to that worker's subscribers.

The reader XREADs `hipflask:events` (BLOCK) from the position it took when it started, parses each
entry once and offers it to every subscription; a subscriber that falls QUEUE_SIZE events
behind is disconnected (it reconnects with Last-Event-ID and replays). Under gunicorn's gevent
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
        while not self.stopping:
            try:
                answer = cast(list[tuple[bytes, list[StreamEntry]]] | None,
                              self.client.xread({STREAM: self.position}, count=1000, block=BLOCK_MS))
            except redis.RedisError as exc:
                log.warning("events reader: redis unreachable (%s); retrying in %ss", exc, RETRY_SECONDS)
                time.sleep(RETRY_SECONDS)
                continue
            for _, entries in answer or ():
                for entry_id, fields in entries:
                    self.position = entry_id.decode()
                    event = from_entry(self.position, fields.get(b"event", b"").decode("utf-8", "replace"))
                    if event is not None:
                        self._deliver(event)

    def _deliver(self, event) -> None:
        for subscription in list(self.subscriptions):
            if not subscription.offer(event):
                self.dropped += 1
                self.unsubscribe(subscription)


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
