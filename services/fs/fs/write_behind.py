"""A file's writes handed to a thread of its own, so that receiving and hashing the next chunk of an
upload overlaps the disk taking this one (the kernel throttles a writer of many dirty pages).

At most DEPTH chunks wait; the first failure is kept and raised to the next `write` or to `drain`.
"""
from __future__ import annotations

import queue
import threading
from typing import IO

DEPTH = 4


class WriteBehind:
    def __init__(self, file: IO[bytes]):
        self.file = file
        self.error: OSError | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(DEPTH)
        self._thread = threading.Thread(target=self._run, name="fs-write-behind", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self.error is None:  # after a failure the rest is only taken off the queue
                try:
                    self.file.write(data)
                except OSError as exc:
                    self.error = exc

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(bytes(data))  # the caller may reuse a buffer it passed

    def drain(self) -> None:
        """Wait until every write is done (the thread ends); raise the first failure."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self.error is not None:
            raise self.error
