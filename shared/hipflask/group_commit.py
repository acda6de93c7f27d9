"""Group commit: concurrent writers of one process share one round trip (a transaction, a pipeline).

`GroupCommit(run_batch).submit(key, work)` hands `work` to a batch of `key` and returns its
outcome once the batch holding it has run: its result, or the exception raised for it. The
classic leader/follower scheme, without a timer: a writer that arrives while no batch of its key
runs leads at once and runs every pending work of the key (its own first, at most `max_batch`);
writers that arrive meanwhile wait and form the next batch, led by one of them as soon as the
running batch returns. A lone writer never waits, and under load one round trip serves many.

`run_batch(key, writes)` sets the `result` or the `error` of every write it is given; an exception
it raises is the error of every write of its batch that has none (nothing of the batch is acknowledged).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

MAX_BATCH = 64


class Write:
    """One writer's work in a batch, and its outcome."""

    __slots__ = ("work", "result", "error", "settled")

    def __init__(self, work: Any):
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.settled = False

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """Batches of concurrent writes per key, each run by one of its writers."""

    def __init__(self, run_batch: Callable[[Hashable, list[Write]], None], max_batch: int = MAX_BATCH):
        self.run_batch = run_batch
        self.max_batch = max(1, max_batch)
        self._changed = threading.Condition()
        self._pending: dict[Hashable, list[Write]] = {}
        self._running: set[Hashable] = set()

    def submit(self, key: Hashable, work: Any) -> Any:
        """`work`'s result once the batch that ran it returned (or the exception raised for it)."""
        write = Write(work)
        with self._changed:
            pending = self._pending.setdefault(key, [])
            pending.append(write)
            while key in self._running and not write.settled:
                self._changed.wait()
            if write.settled:
                return write.outcome()
            pending = self._pending.pop(key)
            pending.remove(write)
            batch = [write, *pending[:self.max_batch - 1]]
            if len(pending) >= self.max_batch:
                self._pending[key] = pending[self.max_batch - 1:]
            self._running.add(key)
        try:
            self.run_batch(key, batch)
        except BaseException as exc:
            for failed in batch:
                if failed.error is None:  # a batch that failed acknowledges none of its writes
                    failed.error, failed.result = exc, None
        finally:
            with self._changed:
                self._running.discard(key)
                for settled in batch:
                    settled.settled = True
                self._changed.notify_all()
        return write.outcome()
