"""hipflask.sqlite.Databases: per-thread WAL connections and BEGIN IMMEDIATE write transactions."""
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hipflask.config import ConfigError
from hipflask.sqlite import Databases
from support import run_threads, wait_until


def counter_schema(connection):
    connection.execute("CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
    connection.execute("INSERT OR IGNORE INTO counter (id, value) VALUES (1, 0)")


@pytest.fixture
def databases():
    databases = Databases(schema=counter_schema)
    yield databases
    databases.close_all()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "ns" / "unit.db"


def counter_value(path):
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT value FROM counter WHERE id = 1").fetchone()[0]


def test_connections_use_the_wal_journal(databases, path):
    connection = databases.connection(path, create=True)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_connections_fsync_at_every_commit_by_default(databases, path):
    connection = databases.connection(path, create=True)
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_connections_wait_on_a_busy_database(databases, path):
    connection = databases.connection(path, create=True)
    assert connection.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000


def test_missing_file_is_not_created_without_create(databases, path):
    assert databases.connection(path, create=False) is None
    assert not path.exists()
    assert not path.parent.exists()


def test_create_makes_the_file_its_folder_and_its_schema(databases, path):
    databases.connection(path, create=True)
    assert path.exists()
    assert counter_value(path) == 0


def test_existing_file_is_opened_without_create(databases, path):
    with databases.write(path) as connection:
        connection.execute("UPDATE counter SET value = 5")
    other = Databases()
    try:
        assert other.connection(path).execute("SELECT value FROM counter").fetchone()[0] == 5
    finally:
        other.close_all()


def test_the_same_thread_reuses_its_connection(databases, path):
    assert databases.connection(path, create=True) is databases.connection(path, create=True)


def open_and_close_in_this_thread(databases, path):
    connection = databases.connection(path, create=True)
    databases.close_all()
    return connection


def test_each_thread_gets_its_own_connection(databases, path):
    mine = databases.connection(path, create=True)
    with ThreadPoolExecutor(1) as pool:
        theirs = pool.submit(open_and_close_in_this_thread, databases, path).result()
    assert theirs is not mine


def test_write_commits_when_the_block_ends(databases, path):
    with databases.write(path) as connection:
        connection.execute("UPDATE counter SET value = 7")
    assert counter_value(path) == 7


def test_write_creates_a_missing_file_with_its_schema(databases, path):
    with databases.write(path) as connection:
        connection.execute("UPDATE counter SET value = value + 1")
    assert counter_value(path) == 1


def test_write_rolls_back_when_the_block_raises(databases, path):
    with pytest.raises(RuntimeError):
        with databases.write(path) as connection:
            connection.execute("UPDATE counter SET value = 99")
            raise RuntimeError("abort the write")
    assert counter_value(path) == 0


def test_connection_is_usable_after_a_rolled_back_write(databases, path):
    with pytest.raises(RuntimeError):
        with databases.write(path):
            raise RuntimeError("abort the write")
    with databases.write(path) as connection:
        connection.execute("UPDATE counter SET value = 3")
    assert counter_value(path) == 3


def test_write_holds_the_write_lock_from_its_start(databases, path):
    databases.connection(path, create=True)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with databases.write(path):
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def test_write_takes_the_lock_soon_after_another_process_releases_it(databases, path):
    databases.connection(path, create=True)
    other = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    released_at: list[float] = []
    waited: list[float] = []

    def write():
        with databases.write(path) as connection:
            waited.append(time.monotonic() - released_at[0])
            connection.execute("UPDATE counter SET value = value + 1 WHERE id = 1")

    writer = threading.Thread(target=write)
    writer.start()
    # Held 0.2 s: SQLite's own busy handler would then be in a 50 ms sleep (178 to 228 ms).
    time.sleep(0.2)
    released_at.append(time.monotonic())
    other.execute("COMMIT")
    other.close()
    writer.join(timeout=10)
    assert counter_value(path) == 1 and waited[0] < 0.02


def test_write_keeps_the_long_busy_timeout_for_its_other_statements(databases, path):
    with databases.write(path) as connection:
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000


def test_schema_runs_once_per_file(path):
    runs = []

    def schema(connection):
        runs.append(1)
        counter_schema(connection)

    databases = Databases(schema=schema)
    try:
        databases.connection(path, create=True)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: open_and_close_in_this_thread(databases, path), range(4)))
        assert runs == [1]
    finally:
        databases.close_all()


def test_concurrent_read_modify_write_from_threads_loses_nothing_and_never_locks(path):
    threads, increments = 8, 25
    databases = Databases(schema=counter_schema)
    start = threading.Barrier(threads)

    def writer():
        start.wait()
        try:
            for _ in range(increments):
                with databases.write(path) as connection:
                    value = connection.execute("SELECT value FROM counter WHERE id = 1").fetchone()[0]
                    connection.execute("UPDATE counter SET value = ? WHERE id = 1", (value + 1,))
        finally:
            databases.close_all()

    run_threads(writer, threads)
    assert counter_value(path) == threads * increments


def test_concurrent_writers_with_separate_databases_objects_create_one_file_and_never_lock(path):
    threads, increments = 4, 25

    def writer():
        databases = Databases(schema=counter_schema)
        try:
            for _ in range(increments):
                with databases.write(path) as connection:
                    connection.execute("UPDATE counter SET value = value + 1 WHERE id = 1")
        finally:
            databases.close_all()

    run_threads(writer, threads)
    assert counter_value(path) == threads * increments


def test_synchronous_can_be_relaxed(path):
    databases = Databases(synchronous="NORMAL")
    try:
        assert databases.connection(path, create=True).execute("PRAGMA synchronous").fetchone()[0] == 1
    finally:
        databases.close_all()


def test_vfs_that_cannot_run_wal_raises_config_error_naming_sqlite_vfs(path):
    with pytest.raises(ConfigError, match=r"^SQLITE_VFS\b"):
        Databases(vfs="unix-dotfile").connection(path, create=True)


def test_wal_capable_vfs_is_used(path):
    databases = Databases(vfs="unix-excl", schema=counter_schema)
    try:
        with databases.write(path) as connection:
            connection.execute("UPDATE counter SET value = 2")
    finally:
        databases.close_all()
    assert counter_value(path) == 2


def test_close_all_closes_this_threads_connections(databases, path):
    connection = databases.connection(path, create=True)
    databases.close_all()
    with pytest.raises(sqlite3.ProgrammingError):
        connection.execute("SELECT 1")
    assert databases.connection(path) is not connection




def test_the_set_of_files_with_a_schema_is_bounded(tmp_path, monkeypatch):
    import hipflask.sqlite
    monkeypatch.setattr(hipflask.sqlite, "MAX_READY_PATHS", 3)
    databases = Databases(schema=counter_schema)
    try:
        for index in range(10):
            with databases.write(tmp_path / f"ns{index}.sqlite3") as connection:
                connection.execute("UPDATE counter SET value = value + 1")
            assert len(databases._ready) <= 3
        assert databases.connection(tmp_path / "ns0.sqlite3").execute("SELECT value FROM counter").fetchone() == (1,)
    finally:
        databases.close_all()


# Group commit (Databases.commit): concurrent writers of one process share a transaction.

def increment(connection):
    connection.execute("UPDATE counter SET value = value + 1 WHERE id = 1")
    return threading.get_ident()


def fail(connection):
    connection.execute("UPDATE counter SET value = value + 1000 WHERE id = 1")
    raise ValueError("this write fails")


def batched(databases, path, works):
    """Run `works` as one batch: a first write holds the batch leader until every other work is
    queued behind it; then the queued works run together. The outcome of each queued work."""
    running, release, outcomes = threading.Event(), threading.Event(), {}

    def leader(connection):  # past its batch's take_pending: the others queue for the next batch
        running.set()
        release.wait(10)
        return increment(connection)

    def submit(index, work):
        try:
            outcomes[index] = databases.commit(path, work)
        except Exception as exc:  # the outcome of a failing write
            outcomes[index] = exc

    first = threading.Thread(target=submit, args=("leader", leader))
    first.start()
    wait_until(running.is_set, timeout=10, what="the first write running in its batch")
    others = [threading.Thread(target=submit, args=(index, work)) for index, work in enumerate(works)]
    for thread in others:
        thread.start()
    wait_until(lambda: len(databases._group._pending.get(path, ())) == len(works), timeout=10,
               what="every write queued")
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    return [outcomes[index] for index in range(len(works))]


def test_a_lone_commit_runs_in_its_writers_thread_and_is_committed_when_it_returns(databases, path):
    assert databases.commit(path, increment) == threading.get_ident()
    assert counter_value(path) == 1


def test_writers_arriving_during_a_commit_share_the_next_transaction(databases, path):
    outcomes = batched(databases, path, [increment, increment, increment])
    assert len(set(outcomes)) == 1  # every queued write ran in the thread of the one that led their batch
    assert counter_value(path) == 4


def test_a_failing_write_in_a_batch_fails_alone(databases, path):
    outcomes = batched(databases, path, [increment, fail, increment])
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[0] == outcomes[2]
    assert counter_value(path) == 3  # the leader and both neighbours, none of the failed write's change


def test_concurrent_commits_lose_no_increment(path):
    threads, increments = 8, 25
    databases = Databases(schema=counter_schema)

    def writer():
        try:
            for _ in range(increments):
                databases.commit(path, increment)
        finally:
            databases.close_all()

    run_threads(writer, threads)
    assert counter_value(path) == threads * increments


def test_prepare_runs_once_when_a_connection_opens_and_not_again_on_reuse(path):
    opened = []

    def prepare(connection):
        opened.append(connection)
        connection.create_function("twice", 1, lambda value: value * 2, deterministic=True)

    databases = Databases(schema=counter_schema, prepare=prepare)
    try:
        first = databases.connection(path, create=True)
        again = databases.connection(path)
        assert again is first
        assert opened == [first]
        assert first.execute("SELECT twice(21)").fetchone() == (42,)
    finally:
        databases.close_all()
