"""Group commit: concurrent writers of one process share one round trip (a transaction, a pipeline).

`GroupCommit(run_batch).submit(key, work)` hands `work` to a batch of `key` and returns its
outcome once the batch holding it has run: its result, or the exception raised for it. The
classic leader/follower scheme, without a timer: a writer that arrives while no batch of its key
runs leads at once, a batch of its own work; writers that arrive meanwhile wait, and as soon as
the running batch returns the first of them leads the next batch, every work queued meanwhile (at
most `max_batch`, in arrival order). A lone writer never waits; under load one round trip serves
many. Each waiting writer is woken once: with its outcome, or to lead.

`run_batch(key, writes)` sets the `result` or the `error` of every write it is given; an exception
it raises is the error of every write of its batch that has none (nothing of the batch is acknowledged).
A runner that first waits for something the batch needs (a database's write lock, which another
process may hold) calls `take_pending(key, writes)` once it has it: the writes that queued meanwhile
join this batch instead of waiting for the next one.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

MAX_BATCH = 64
Key = TypeVar("Key", bound=Hashable)


class Write:
    """One writer's work in a batch, and its outcome."""

    __slots__ = ("work", "result", "error", "batch", "_wake")

    def __init__(self, work: Any):
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.batch: list[Write] | None = None  # set when this write is to lead that batch
        self._wake = threading.Lock()
        self._wake.acquire()

    def wait(self) -> None:
        self._wake.acquire()

    def wake(self) -> None:
        self._wake.release()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit(Generic[Key]):
    """Batches of concurrent writes per key, each run by one of its writers."""

    def __init__(self, run_batch: Callable[[Key, list[Write]], None], max_batch: int = MAX_BATCH):
        self.run_batch = run_batch
        self.max_batch = max(1, max_batch)
        self._lock = threading.Lock()
        self._pending: dict[Key, list[Write]] = {}  # a key is here while one of its batches runs

    def submit(self, key: Key, work: Any) -> Any:
        """`work`'s result once the batch that ran it returned (or the exception raised for it)."""
        write = Write(work)
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                self._pending[key] = []
                write.batch = [write]
            else:
                pending.append(write)
        if write.batch is None:
            write.wait()  # woken with its outcome, or to lead the next batch
        while write.batch is not None:
            batch, write.batch = write.batch, None
            self._run(key, batch)
        return write.outcome()

    def take_pending(self, key: Key, batch: list[Write]) -> None:
        """Move the writes of `key` queued since `batch` was formed into it (up to max_batch in all).
        Only the runner of `batch`, inside `run_batch`, may call it."""
        with self._lock:
            pending = self._pending[key]
            room = self.max_batch - len(batch)
            if pending and room > 0:
                batch.extend(pending[:room])
                self._pending[key] = pending[room:]

    def _run(self, key: Key, batch: list[Write]) -> None:
        """Run `batch`, wake its writers with their outcomes, and hand the next batch to its leader."""
        try:
            self.run_batch(key, batch)
        except BaseException as exc:
            for failed in batch:
                if failed.error is None:  # a batch that failed acknowledges none of its writes
                    failed.error, failed.result = exc, None
        with self._lock:
            pending = self._pending[key]
            if pending:
                self._pending[key] = pending[self.max_batch:]
                leader = pending[0]
                leader.batch = pending[:self.max_batch]
            else:
                del self._pending[key]
                leader = None
        for settled in batch[1:]:
            settled.wake()
        if leader is not None:
            leader.wake()
