"""The KVStorage contract, without HTTP, on every backend (SQLite specifics are marked sqlite_only)."""
import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from hipflask.clock import now_ms
from hipflask.conditional import ANY, PreconditionFailed
from hipflask.postgres import PostgresSettings
from support import race, run_threads, wait_until

from kv.postgres import PostgresKV
from kv.sqlite import _LIST, KVStore
from kv.storage import BadKey, InvalidJson, ValueTooLarge, after_prefix

NS = "DEFAULT"


def open_kv(location, max_value_size=1024 * 1024):
    """A storage on `location`: ("sqlite", data_dir) or ("postgres", url)."""
    kind, where = location
    if kind == "postgres":
        return PostgresKV(PostgresSettings(where, 4, 2.0, 5.0), max_value_size=max_value_size).open()
    return KVStore(Path(where), max_value_size=max_value_size)


@pytest.fixture
def location(backend, tmp_path, request):
    if backend == "postgres":
        return ("postgres", request.getfixturevalue("postgres_url"))
    return ("sqlite", str(tmp_path / "data"))


@pytest.fixture
def store(location):
    store = open_kv(location)
    yield store
    store.close()


def test_put_then_get_returns_the_value_and_its_metadata(store):
    written = store.put(NS, "a/b", b"value", "text/plain")
    item = store.get(NS, "a/b")
    assert item == written
    assert (item.key, item.value, item.content_type, item.expires) == ("a/b", b"value", "text/plain", None)
    assert abs(item.modified - now_ms()) < 5000


def test_put_replaces_the_whole_value_with_a_fresh_etag(store):
    first = store.put(NS, "k", b"a long first value", "text/plain")
    second = store.put(NS, "k", b"2", "superpants")
    item = store.get(NS, "k")
    assert (item.value, item.content_type, item.etag) == (b"2", "superpants", second.etag)
    assert second.etag != first.etag


def test_get_of_a_missing_namespace_is_none(store):
    assert store.get("ghost", "k") is None
    assert store.keys("ghost") == []
    assert store.delete("ghost", "k") is False


@pytest.mark.sqlite_only
def test_reads_of_a_missing_namespace_create_no_file(store):
    store.get("ghost", "k")
    store.keys("ghost")
    store.delete("ghost", "k")
    assert not (store.data_dir / "ghost.sqlite3").exists()


def test_delete_removes_and_reports_whether_there_was_a_value(store):
    store.put(NS, "k", b"1", "text/plain")
    assert store.delete(NS, "k") is True
    assert store.get(NS, "k") is None
    assert store.delete(NS, "k") is False


@pytest.mark.parametrize("key", ["", "a/../b", "..", ".", "a/.", "./a", "a\x00b", "k" * 1025, "\ud800"])
def test_bad_keys_raise_bad_key_everywhere(store, key):
    with pytest.raises(BadKey):
        store.put(NS, key, b"1", "text/plain")
    with pytest.raises(BadKey):
        store.get(NS, key)
    with pytest.raises(BadKey):
        store.delete(NS, key)


def test_the_empty_prefix_lists_everything_but_other_bad_prefixes_raise(store):
    store.put(NS, "k", b"1", "text/plain")
    assert [entry.key for entry in store.keys(NS, "")] == ["k"]
    with pytest.raises(BadKey):
        store.keys(NS, "a/../")


@pytest.mark.parametrize("value", [b"{", b"NaN", b'{"a": Infinity}', b'"\xff"', b""])
def test_invalid_json_under_a_json_type_raises_and_keeps_the_old_value(store, value):
    store.put(NS, "j", b'{"ok": 1}', "application/json")
    with pytest.raises(InvalidJson):
        store.put(NS, "j", value, "application/problem+json")
    assert store.get(NS, "j").value == b'{"ok": 1}'


def test_json_is_not_checked_under_other_types(store):
    store.put(NS, "j", b"{", "application/javascript")
    assert store.get(NS, "j").value == b"{"


def test_value_over_the_limit_raises_and_stores_nothing(location):
    store = open_kv(location, max_value_size=10)
    store.put(NS, "k", b"x" * 10, "text/plain")
    with pytest.raises(ValueTooLarge):
        store.put(NS, "k", b"x" * 11, "text/plain")
    assert store.get(NS, "k").value == b"x" * 10
    store.close()


def test_if_match_writes_only_over_the_matching_etag(store):
    first = store.put(NS, "k", b"1", "text/plain")
    second = store.put(NS, "k", b"2", "text/plain", if_match={first.etag})
    with pytest.raises(PreconditionFailed):
        store.put(NS, "k", b"3", "text/plain", if_match={first.etag})
    assert store.get(NS, "k").etag == second.etag


def test_if_match_any_needs_a_value(store):
    with pytest.raises(PreconditionFailed):
        store.put(NS, "k", b"1", "text/plain", if_match=ANY)
    store.put(NS, "k", b"1", "text/plain")
    store.put(NS, "k", b"2", "text/plain", if_match=ANY)


def test_if_none_match_any_writes_only_when_absent(store):
    store.put(NS, "k", b"1", "text/plain", if_none_match=ANY)
    with pytest.raises(PreconditionFailed):
        store.put(NS, "k", b"2", "text/plain", if_none_match=ANY)
    assert store.get(NS, "k").value == b"1"


def test_if_none_match_etags_refuse_a_matching_value(store):
    first = store.put(NS, "k", b"1", "text/plain")
    with pytest.raises(PreconditionFailed):
        store.put(NS, "k", b"2", "text/plain", if_none_match={first.etag})
    store.put(NS, "k", b"3", "text/plain", if_none_match={"other"})


def test_delete_with_a_stale_if_match_raises_and_keeps_the_value(store):
    first = store.put(NS, "k", b"1", "text/plain")
    store.put(NS, "k", b"2", "text/plain")
    with pytest.raises(PreconditionFailed):
        store.delete(NS, "k", if_match={first.etag})
    assert store.get(NS, "k").value == b"2"


def _cas_increment(store, times):
    """Add 1 to the counter `times` times with compare-and-set, retrying every lost race."""
    done = 0
    while done < times:
        item = store.get(NS, "counter")
        try:
            store.put(NS, "counter", str(int(item.value) + 1).encode(), "text/plain", if_match={item.etag})
            done += 1
        except PreconditionFailed:
            pass


def test_concurrent_compare_and_set_loses_no_update(store):
    store.put(NS, "counter", b"0", "text/plain")
    run_threads(_cas_increment, 4, args=(store, 25))
    assert store.get(NS, "counter").value == b"100"


def _increment_in_a_process(location, times):
    store = open_kv(location, max_value_size=1024)
    _cas_increment(store, times)
    store.close()


def test_compare_and_set_across_processes_loses_no_update(store, location):
    store.put(NS, "counter", b"0", "text/plain")
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_increment_in_a_process, args=(location, 20)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    assert store.get(NS, "counter").value == b"60"


def test_readers_see_only_whole_values_while_writers_replace_them(store):
    values = {bytes([n]) * (50_000 + n * 1000) for n in range(1, 6)}
    store.put(NS, "hot", next(iter(values)), "application/octet-stream")
    stop = threading.Event()
    seen, errors = [], []

    def write(value):
        while not stop.is_set():
            store.put(NS, "hot", value, "application/octet-stream")

    def read():
        while not stop.is_set():
            item = store.get(NS, "hot")
            if item is None or item.value not in values:
                errors.append(item and item.value[:20])
            seen.append(item and len(item.value))

    threads = [threading.Thread(target=write, args=(v,)) for v in values]
    threads += [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(seen) > 2000, 60, "readers to read 2000 times")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert errors == []


def test_expired_value_reads_as_missing(store):
    store.put(NS, "old", b"1", "text/plain", ttl=1)
    item = store.get(NS, "old")
    assert item.expires == item.modified + 1000
    wait_until(lambda: store.get(NS, "old") is None, 5, "the value to expire")
    assert store.keys(NS) == []


@pytest.mark.sqlite_only
def test_an_expired_row_is_purged_by_the_next_write_to_the_namespace(store):
    store.put(NS, "old", b"1", "text/plain", ttl=1)
    wait_until(lambda: store.get(NS, "old") is None, 5, "the value to expire")
    store.put(NS, "other", b"2", "text/plain")
    with sqlite3.connect(store.data_dir / f"{NS}.sqlite3") as raw:
        assert raw.execute("SELECT key FROM kv").fetchall() == [("other",)]


def test_an_expired_postgres_row_is_purged_by_the_next_write_to_the_namespace(postgres_url):
    store = open_kv(("postgres", postgres_url))
    store.put(NS, "old", b"1", "text/plain", ttl=1)
    wait_until(lambda: store.get(NS, "old") is None, 5, "the value to expire")
    store.put(NS, "other", b"2", "text/plain")
    assert store.count(NS) == 1
    store.close()


def test_keys_lists_only_the_prefix_in_key_order_with_metadata(store):
    for key in ["a/b", "a/a", "a", "a0", "a/", "b", "a/b/c"]:
        store.put(NS, key, key.encode(), "text/plain")
    entries = store.keys(NS, "a/")
    assert [entry.key for entry in entries] == ["a/", "a/a", "a/b", "a/b/c"]
    assert entries[2].size == 3
    assert entries[2].content_type == "text/plain"
    assert [entry.key for entry in store.keys(NS, "a/", limit=2)] == ["a/", "a/a"]


def test_keys_handles_prefixes_ending_in_the_highest_characters(store):
    for key in ["x\U0010ffff", "x\U0010ffff\U0010ffffz", "y", "\U0010ffff", "\U0010ffffa", "\ud7ff\ue000"]:
        store.put(NS, key, b"1", "text/plain")
    assert [e.key for e in store.keys(NS, "x\U0010ffff")] == ["x\U0010ffff", "x\U0010ffff\U0010ffffz"]
    assert [e.key for e in store.keys(NS, "\U0010ffff")] == ["\U0010ffff", "\U0010ffffa"]
    assert [e.key for e in store.keys(NS, "\ud7ff")] == ["\ud7ff\ue000"]


def test_after_prefix_is_the_next_string_after_the_prefix_range():
    assert after_prefix("app/") == "app0"
    assert after_prefix("a\U0010ffff") == "b"
    assert after_prefix("\ud7ff") == "\ue000"
    assert after_prefix("\U0010ffff\U0010ffff") is None


@pytest.mark.sqlite_only
def test_keys_is_an_index_range_scan(store):
    store.put(NS, "k", b"1", "text/plain")
    connection = store.databases.connection(store.data_dir / f"{NS}.sqlite3")
    plan = " ".join(row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + _LIST, ("a/", "a0", 0, -1)))
    assert "USING INDEX" in plan and "key>? AND key<?" in plan
    assert "SCAN" not in plan


def test_postgres_keys_is_an_index_range_scan(postgres_url):
    from kv.postgres import _LIST as PG_LIST
    store = open_kv(("postgres", postgres_url))
    store.put(NS, "k", b"1", "text/plain")
    with store.database.connection() as connection:
        connection.execute("SET enable_seqscan = off")  # a tiny table: ask which index the plan can use
        plan = " ".join(row[0] for row in connection.execute("EXPLAIN " + PG_LIST, (NS, "a/", "a0", 0, 10)))
        connection.execute("RESET enable_seqscan")
    store.close()
    assert "Index" in plan and "kv_values_pkey" in plan
    assert "(key >= " in plan and "(key < " in plan


def test_values_survive_a_new_store_on_the_same_location(store, location):
    store.put(NS, "k", os.urandom(100), "application/octet-stream")
    value = store.get(NS, "k").value
    reopened = open_kv(location, max_value_size=1024)
    assert reopened.get(NS, "k").value == value
    reopened.close()


@pytest.mark.sqlite_only
def test_the_namespace_path_cache_is_bounded(store):
    from kv.sqlite import PATHS_CACHED
    for index in range(PATHS_CACHED + 500):
        assert store._path(f"user{index}").name == f"user{index}.sqlite3"
    assert store._path.cache_info().currsize == PATHS_CACHED


def test_a_json_value_nested_deeper_than_the_limit_is_refused(tmp_path):
    shallow = KVStore(tmp_path / "deep", max_value_size=1024 * 1024, max_json_depth=3)
    shallow.put(NS, "ok", b"[[[1]]]", "application/json")
    from hipflask.json_depth import TooDeep
    with pytest.raises(TooDeep) as raised:
        shallow.put(NS, "deep", b"[[[[1]]]]", "application/json")
    assert raised.value.code == "bad_json" and "3" in raised.value.message
    assert shallow.get(NS, "deep") is None
    shallow.databases.close_all()


def test_concurrent_writes_that_purge_expired_values_all_succeed(store):
    for n in range(200):
        store.put(NS, f"old/{n}", b"1", "text/plain", ttl=1)
    wait_until(lambda: store.get(NS, "old/199") is None, 5, "the values to expire")

    def write():
        for n in range(30):
            store.put(NS, f"new/{threading.get_ident()}/{n}", b"2", "text/plain")

    run_threads(write, 8)
    assert len(store.keys(NS, "new/")) == 240
    assert store.keys(NS, "old/") == []


def test_of_concurrent_writers_holding_the_same_etag_exactly_one_wins_and_the_losers_write_nothing(store):
    first = store.put(NS, "k", b"first", "text/plain")
    outcomes = race(8, lambda n: store.put(NS, "k", f"w{n}".encode(), "text/plain", if_match={first.etag}))
    winners = [n for n, outcome in outcomes.items() if not isinstance(outcome, Exception)]
    assert len(winners) == 1
    assert all(isinstance(outcomes[n], PreconditionFailed) for n in outcomes if n not in winners)
    item = store.get(NS, "k")
    assert (item.value, item.etag) == (f"w{winners[0]}".encode(), outcomes[winners[0]].etag)


def test_concurrent_writers_of_one_namespace_each_keep_their_own_value_and_etag(store):
    outcomes = race(8, lambda n: [store.put(NS, f"w{n}/{i}", f"{n}-{i}".encode(), "text/plain") for i in range(10)])
    etags = set()
    for n, written in outcomes.items():
        for i, item in enumerate(written):
            assert store.get(NS, f"w{n}/{i}") == item
            etags.add(item.etag)
    assert len(etags) == 80


def test_a_refused_write_among_concurrent_writers_fails_alone(store):
    store.put(NS, "taken", b"old", "text/plain")

    def write(n):
        if n % 2:
            return store.put(NS, "taken", b"never", "text/plain", if_none_match=ANY)
        return store.put(NS, f"free/{n}", b"new", "text/plain")

    outcomes = race(8, write)
    assert all(isinstance(outcomes[n], PreconditionFailed) for n in range(1, 8, 2))
    assert [store.get(NS, f"free/{n}").value for n in range(0, 8, 2)] == [b"new"] * 4
    assert store.get(NS, "taken").value == b"old"
