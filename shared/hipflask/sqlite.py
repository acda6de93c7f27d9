"""SQLite connections for the services that keep their data in SQLite (store, kv).

One connection per thread per database file, opened once and reused (deleting a database file
under a running service is not supported: restart the service): WAL journal, a long busy
timeout, `synchronous=FULL` unless relaxed (FULL fsyncs the WAL at every commit, so an
acknowledged write survives `kill -9` and power loss), and the VFS named by SQLITE_VFS.
`write()` runs a transaction that takes the write lock at its start (BEGIN IMMEDIATE), so a
read-modify-write inside it is atomic across threads, workers and replicas, and concurrent
writers queue for that lock (polling it every 0.2 ms, see `_begin_immediate`) instead of failing
with `database is locked`.
`commit()` runs a write as part of a group commit (hipflask.group_commit): the concurrent writers
of one process to one file share a transaction and its fsync, each in a SAVEPOINT of its own, and
each is answered only after that COMMIT returned.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar, overload

from hipflask.config import ConfigError
from hipflask.group_commit import GroupCommit, Write
from hipflask.storage_errors import is_no_space

BUSY_TIMEOUT_SECONDS = 60.0
BUSY_TIMEOUT_PRAGMA = f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}"
LOCK_POLL_SECONDS = 0.0002
MAX_CONNECTIONS_PER_THREAD = 64
MAX_READY_PATHS = 4096
Result = TypeVar("Result")


class Databases:
    """Per-thread connections to the database files of one service."""

    def __init__(self, vfs: str | None = None, synchronous: str = "FULL",
                 schema: Callable[[sqlite3.Connection], None] | None = None,
                 max_connections: int = MAX_CONNECTIONS_PER_THREAD,
                 prepare: Callable[[sqlite3.Connection], None] | None = None):
        """`schema` runs once per file, in a transaction; `prepare` on every connection as it opens
        (the user functions its SQL calls), never again per statement."""
        self.vfs = vfs
        self.max_connections = max(2, max_connections)
        self.synchronous = synchronous
        self.schema = schema
        self.prepare = prepare
        self._local = threading.local()
        self._ready: set[Path] = set()  # files whose schema is made; forgotten past MAX_READY_PATHS
        self._ready_lock = threading.Lock()
        self._group = GroupCommit(self._commit_batch)

    def _open(self, path: Path, create: bool) -> sqlite3.Connection:
        query = {"mode": "rwc" if create else "rw"}
        if self.vfs:
            query["vfs"] = self.vfs
        uri = f"file:{urllib.parse.quote(str(path))}?{urllib.parse.urlencode(query)}"
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS,
                                     isolation_level=None, check_same_thread=False)
        if self.prepare is not None:
            self.prepare(connection)
        mode = self._enable_wal(connection)
        if mode.lower() != "wal":
            connection.close()
            raise ConfigError(f"SQLITE_VFS: the VFS {self.vfs!r} cannot run SQLite in WAL mode (got {mode})")
        connection.execute(f"PRAGMA synchronous={self.synchronous}")
        connection.execute(BUSY_TIMEOUT_PRAGMA)
        if path not in self._ready:
            with self._ready_lock:
                if path not in self._ready and self.schema is not None:
                    try:
                        with self.transaction(connection):
                            self.schema(connection)
                    except sqlite3.OperationalError as exc:
                        if create or not is_no_space(exc):
                            connection.close()
                            raise
                        # A reader on a full volume: the file's schema was made by the write that
                        # created it. Checked again at the next open.
                        return connection
                if len(self._ready) >= MAX_READY_PATHS:
                    self._ready.clear()  # the schema statements are idempotent: a forgotten file is checked again
                self._ready.add(path)
        return connection

    @staticmethod
    def _enable_wal(connection: sqlite3.Connection) -> str:
        """WAL is persistent: only the first opener of a new file switches it, and that switch
        answers `database is locked` at once (no busy wait) while another opener holds a lock."""
        def switch() -> str:
            mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() == "wal":
                return mode
            return connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        return _retry_while_locked(switch, 0.005)

    @overload
    def connection(self, path: Path, create: Literal[True]) -> sqlite3.Connection: ...

    @overload
    def connection(self, path: Path, create: bool = False) -> sqlite3.Connection | None: ...

    def connection(self, path: Path, create: bool = False) -> sqlite3.Connection | None:
        """This thread's connection to `path`; None when the file is missing and `create` is false.

        A thread keeps at most `max_connections` open (one per database file, least recently used
        closed first), so a service with many namespaces does not run out of file descriptors.
        """
        cache = self._local.__dict__.get("connections")
        if cache is None:
            cache = self._local.__dict__["connections"] = OrderedDict()
        connection = cache.get(path)
        if connection is not None:
            cache.move_to_end(path)
            return connection
        if not create and not path.exists():
            return None
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = self._open(path, create)
        except sqlite3.OperationalError as exc:
            if create:
                raise
            if is_no_space(exc):
                return self._snapshot(path, exc)
            return None
        cache[path] = connection
        if len(cache) > self.max_connections:
            cache.popitem(last=False)[1].close()
        return connection

    def _snapshot(self, path: Path, error: sqlite3.OperationalError) -> sqlite3.Connection:
        """A reader of `path` on a full volume, which has no room for the `-shm` file a WAL reader
        needs. With no `-wal` content left (the last connection checkpointed it into the database),
        the database file holds every committed write and is read as immutable; the connection is
        not kept, so reads go back to WAL once there is space. With a `-wal` to read: `error`."""
        try:
            if os.path.getsize(f"{path}-wal") > 0:
                raise error
        except FileNotFoundError:
            pass
        query = {"mode": "ro", "immutable": "1", **({"vfs": self.vfs} if self.vfs else {})}
        uri = f"file:{urllib.parse.quote(str(path))}?{urllib.parse.urlencode(query)}"
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        if self.prepare is not None:
            self.prepare(connection)
        return connection

    @staticmethod
    def _begin_immediate(connection: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, waiting for another process's write lock by short polls.

        SQLite's busy handler sleeps 1, 2, 5, 10 ... 100 ms between its tries, so a worker whose
        writes queue behind another worker's stream of commits stalls for tens of milliseconds at a
        time; polling every LOCK_POLL_SECONDS takes the lock within a fraction of a millisecond of
        its release. Every other statement keeps the connection's long busy timeout.
        """
        connection.execute("PRAGMA busy_timeout=0")
        try:
            _retry_while_locked(lambda: connection.execute("BEGIN IMMEDIATE"), LOCK_POLL_SECONDS)
        finally:
            connection.execute(BUSY_TIMEOUT_PRAGMA)

    @classmethod
    @contextlib.contextmanager
    def transaction(cls, connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception, a failed COMMIT included)."""
        cls._begin_immediate(connection)
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # a failed COMMIT (a full disk) leaves it open
                connection.execute("ROLLBACK")
            raise

    def write(self, path: Path) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A write transaction on `path`, creating the file and its schema when missing."""
        return self.transaction(self.connection(path, create=True))

    def commit(self, path: Path, work: Callable[[sqlite3.Connection], Result]) -> Result:
        """`work(connection)` inside a write transaction on `path` (created when missing), shared with
        the process's concurrent writers of `path`; its result once that transaction is committed.

        An exception of `work` rolls back `work` alone (its SAVEPOINT) and is raised here; the
        other writes of the batch commit. A failed COMMIT raises for every write of the batch.
        `work` may run in another writer's thread, on that thread's connection; it must not call
        `commit` itself (it would wait for its own batch).
        """
        return self._group.submit(path, work)

    def _commit_batch(self, path: Path, batch: list[Write]) -> None:
        connection = self.connection(path, create=True)
        with self.transaction(connection):
            # While this worker waited for the write lock (another process's commit), more of its
            # writers queued: they share this transaction's fsync instead of the next one's.
            self._group.take_pending(path, batch)
            if len(batch) == 1:  # alone: the transaction is the write's own, no savepoint needed
                batch[0].result = batch[0].work(connection)
                return
            for write in batch:
                connection.execute("SAVEPOINT write")
                try:
                    write.result = write.work(connection)
                except Exception as exc:
                    write.error = exc
                    if not connection.in_transaction:
                        # SQLite rolled the whole transaction back (a full disk, an I/O error):
                        # the batch's earlier writes are gone with it.
                        raise
                    connection.execute("ROLLBACK TO write")
                connection.execute("RELEASE write")

    def close_all(self) -> None:
        for connection in self._local.__dict__.get("connections", {}).values():
            connection.close()
        self._local.__dict__["connections"] = OrderedDict()


def _retry_while_locked(attempt: Callable[[], Result], poll_seconds: float) -> Result:
    """`attempt()`, tried again every `poll_seconds` while it fails with `database is locked`,
    for at most BUSY_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(poll_seconds)
