"""Redis, the backplane every replica of every service shares for the cache and the events.

Callers use `Backplane.call`, which fails open: when Redis is unreachable it logs a warning,
counts the failure and returns None, and for a short back-off it does not try again, so a down
Redis costs a request nothing more than one timeout every few seconds.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from prometheus_client import Counter

log = logging.getLogger("hipflask.backplane")
BACKOFF_SECONDS = 2.0
FAILURES = Counter("hipflask_redis_failures", "Redis calls that failed open (the request went on without "
                   "Redis), by purpose: cache, events", ["service", "purpose"])


class Backplane:
    def __init__(self, url: str, timeout: float, service: str = ""):
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30)
        self.service = service
        for purpose in ("cache", "events"):
            FAILURES.labels(service, purpose)  # present from the start, at zero
        self.failures: collections.Counter[str] = collections.Counter()
        self._down_until = 0.0
        self._lock = threading.Lock()

    def call(self, purpose: str, operation: Callable[[redis.Redis], Any], count: int = 1) -> Any:
        """operation(client), or None when Redis is unreachable (counted under `purpose`, `count`
        times for an operation that carries that many requests' calls)."""
        if time.monotonic() < self._down_until:
            with self._lock:
                self._failed(purpose, count)
            return None
        try:
            return operation(self.client)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            with self._lock:
                self._failed(purpose, count)
                self._down_until = time.monotonic() + BACKOFF_SECONDS
            log.warning("redis unreachable for %s (%s); going on without it", purpose, exc)
            return None
        except redis.RedisError as exc:  # an error reply: Redis answers, so no back-off
            with self._lock:
                self._failed(purpose, count)
            log.warning("redis refused %s (%s); going on without it", purpose, exc)
            return None

    def _failed(self, purpose: str, count: int = 1) -> None:
        self.failures[purpose] += count
        FAILURES.labels(self.service, purpose).inc(count)

    def ping(self) -> bool:
        """True when Redis answers now (ignores the back-off; used by readiness checks)."""
        try:
            return bool(self.client.ping())
        except (redis.RedisError, OSError):
            return False
