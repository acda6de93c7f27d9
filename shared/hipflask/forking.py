"""What a process must make anew after a fork: gunicorn's preloaded workers (PRELOAD_APP) are forked
from a master that built the app, and a connection pool, a client with sockets or a thread made
there must not be shared with (or be missing from) the workers.

`renew_after_fork(owner, renew)` runs `renew(owner)` in every child forked later, while `owner` lives.
Redis clients (redis-py checks the pid), SQLite connections (closed after start-up) and
prometheus_client's files (per pid) need nothing.
"""
from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def renew_after_fork(owner: T, renew: Callable[[T], None]) -> None:
    reference = weakref.ref(owner)

    def in_child() -> None:
        alive = reference()
        if alive is not None:
            renew(alive)

    os.register_at_fork(after_in_child=in_child)
