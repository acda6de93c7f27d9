"""PostgreSQL connections for the services that can keep their data there (store, kv).

`database_url(env, service)` (in `hipflask.database_settings`, which a service without a database
reads without loading psycopg) reads the URL: `<SERVICE>_DATABASE_URL`, else the file named by
`<SERVICE>_DATABASE_URL_FILE`, else `DATABASE_URL`, else `DATABASE_URL_FILE`; None keeps SQLite.
`Postgres` holds one pool per worker process (psycopg_pool), opened without waiting, so a service
starts while the database is still down. Every session commits with `synchronous_commit=on` (an
acknowledged write is on the server's disk) under `statement_timeout`.

The schema is migrated under a transaction-scoped advisory lock, so replicas that start together
apply each migration once; `hipflask_schema` keeps each component's version. A service that
started while the database was down migrates at its first request that reaches it.

A backend failure becomes one error class each, raised from one place (`Postgres.connection`)
and answered by the one error handler: `DatabaseUnavailable` (503) when the server cannot be
reached or drops the session, `DatabaseTimeout` (504, logged) when a statement is cancelled by
`statement_timeout`. Both name the database and never carry the URL (it may hold a password).
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import psycopg_pool

from hipflask.database_settings import PostgresSettings, database_url, settings_from_env
from hipflask.errors import HipflaskError
from hipflask.forking import renew_after_fork

__all__ = ["DatabaseTimeout", "DatabaseUnavailable", "Postgres", "PostgresSettings", "database_url", "one_row",
           "settings_from_env"]

log = logging.getLogger("hipflask.postgres")
DATABASE = "postgresql"


class DatabaseUnavailable(HipflaskError):
    def __init__(self, component: str, reason: str):
        super().__init__(503, "database_unavailable", f"the {component} database (PostgreSQL) is unavailable: {reason}",
                         headers={"Retry-After": "1"}, extra={"database": DATABASE})


class DatabaseTimeout(HipflaskError):
    def __init__(self, component: str, seconds: float):
        super().__init__(504, "database_timeout",
                         f"the {component} database (PostgreSQL) did not answer within {seconds:g}s "
                         "(DATABASE_STATEMENT_TIMEOUT)", extra={"database": DATABASE})


class Postgres:
    """A pool of sessions for one component (`store`, `kv`) and its schema migrations.

    `migrations` lists the statements of each schema version, oldest first; version N is the
    N-th entry. A migration runs in one transaction with the version's update.
    """

    LOCK_KEY = 0x68697066  # "hipf": the advisory lock every hipflask migration takes

    def __init__(self, settings: PostgresSettings, component: str, migrations: Sequence[Sequence[str]]):
        self.settings = settings
        self.component = component
        self.migrations = migrations
        self.pool = self._new_pool()
        self._migrated = False
        self._migrate_lock = threading.Lock()
        renew_after_fork(self, Postgres._reopen_in_child)

    def _new_pool(self) -> psycopg_pool.ConnectionPool:
        settings = self.settings
        options = (f"-c synchronous_commit=on -c statement_timeout={int(settings.statement_timeout * 1000)} "
                   f"-c idle_in_transaction_session_timeout={int(max(settings.statement_timeout, 1) * 2000)}")
        return psycopg_pool.ConnectionPool(
            settings.url, min_size=1, max_size=settings.pool_size, timeout=settings.connect_timeout,
            open=False, name=f"hipflask-{self.component}", reconnect_timeout=settings.connect_timeout * 5,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(settings.connect_timeout)),
                    "options": options, "application_name": f"hipflask-{self.component}"})

    def open(self) -> None:
        """Open the pool (without waiting for the server) and migrate when the server answers."""
        self.pool.open(wait=False)
        try:
            with self.connection():
                pass
        except HipflaskError as exc:
            log.warning("%s: PostgreSQL not reachable at start (%s); migrating at the first request that reaches it",
                        self.component, exc.message)

    def _reopen_in_child(self) -> None:
        """A forked worker (PRELOAD_APP): the parent's sessions and pool threads are not its own; it
        leaves them to the parent (kept referenced: freeing them here would end the parent's sessions)
        and opens a pool of its own."""
        was_open = not self.pool.closed
        self._parents_pool = self.pool
        self.pool = self._new_pool()
        if was_open:
            self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()

    def _ensure_schema(self, connection: psycopg.Connection) -> None:
        with self._migrate_lock:
            if not self._migrated:
                self.migrate(connection)
                self._migrated = True

    def migrate(self, connection: psycopg.Connection) -> int:
        """Bring the component's schema to the latest version; the version it is at."""
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (self.LOCK_KEY,))
            connection.execute("CREATE TABLE IF NOT EXISTS hipflask_schema "
                               "(component text PRIMARY KEY, version integer NOT NULL)")
            row = connection.execute("SELECT version FROM hipflask_schema WHERE component = %s",
                                     (self.component,)).fetchone()
            current = row[0] if row else 0
            for version, statements in enumerate(self.migrations, start=1):
                if version <= current:
                    continue
                for statement in statements:
                    connection.execute(statement)
                log.info("%s: PostgreSQL schema migrated to version %d", self.component, version)
            if len(self.migrations) > current:
                connection.execute(
                    "INSERT INTO hipflask_schema (component, version) VALUES (%s, %s) "
                    "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                    (self.component, len(self.migrations)))
            return max(current, len(self.migrations))

    @contextlib.contextmanager
    def _session(self) -> Iterator[psycopg.Connection]:
        """A pooled session; the one place where PostgreSQL's failures become hipflask's errors."""
        try:
            with self.pool.connection() as connection:
                yield connection
        except psycopg.errors.QueryCanceled:
            log.warning("%s: a statement was cancelled by DATABASE_STATEMENT_TIMEOUT (%gs)",
                        self.component, self.settings.statement_timeout)
            raise DatabaseTimeout(self.component, self.settings.statement_timeout) from None
        except psycopg_pool.PoolTimeout:
            raise DatabaseUnavailable(self.component, f"no connection within {self.settings.connect_timeout:g}s "
                                                      "(DATABASE_CONNECT_TIMEOUT)") from None
        except psycopg.OperationalError as exc:
            log.warning("%s: PostgreSQL session failed: %s", self.component, (str(exc).strip().splitlines() or [""])[0])
            raise DatabaseUnavailable(self.component, "the connection failed") from None

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A session in autocommit mode, with the schema migrated."""
        with self._session() as connection:
            if not self._migrated:
                self._ensure_schema(connection)
            yield connection

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A read-write transaction: committed (and durable) when the block ends, rolled back on any error."""
        with self.connection() as connection, connection.transaction():
            yield connection

    def ready(self) -> bool:
        """The server answers and the schema is at its version; raises DatabaseUnavailable otherwise."""
        with self.connection() as connection:
            return connection.execute("SELECT 1").fetchone() == (1,)


def one_row(cursor: psycopg.Cursor) -> tuple[Any, ...]:
    """The row of a statement that always returns one (`count(*)`, an upsert's RETURNING)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row
