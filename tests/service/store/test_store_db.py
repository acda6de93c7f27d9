"""The storage contract of store.db, without HTTP: files, ids, timestamps, etags, atomic writes."""
import json
import multiprocessing
import os
import signal
import threading

import pytest

import hipflask
from hipflask.config import ConfigError
from hipflask.errors import HipflaskError
from support import race

from store import db
from store.db import PreconditionFailed, open_store
from store.query import Filter, Query
from store.wsgi import build


def texts(page):
    return [json.loads(text) for text in page.items]


@pytest.mark.sqlite_only
def test_reads_of_a_missing_namespace_create_no_file(store):
    assert store.get("nobody", "things", 1) is None
    assert store.list("nobody", "things").items == []
    assert store.stores("nobody") == []
    assert store.delete("nobody", "things", [1]) == []
    assert os.listdir(store.data_dir) == []


@pytest.mark.sqlite_only
def test_the_first_write_creates_the_namespace_file(store):
    store.append("alice", "things", {"a": 1})
    assert (store.data_dir / "alice.sqlite3").exists()


def test_reads_of_a_missing_store_in_an_existing_namespace_are_empty(store):
    store.append("alice", "things", {"a": 1})
    assert store.get("alice", "other", 1) is None
    assert store.list("alice", "other").items == []
    assert store.list("alice", "other").version == db.EMPTY_VERSION


def test_append_returns_the_stored_item(store):
    item = store.append("alice", "things", {"a": 1, "id": 50, "created": 0})
    assert item == json.loads(store.get("alice", "things", item["id"]).text)
    assert (item["id"], item["a"]) == (1, 1)
    assert item["created"] == item["updated"] > 0


def test_ids_are_not_reused_after_the_highest_is_deleted(store):
    for n in range(3):
        store.append("alice", "things", {"n": n})
    store.delete("alice", "things", [2, 3])
    assert store.append("alice", "things", {})["id"] == 4


def test_an_explicit_id_raises_the_next_id(store):
    store.replace("alice", "things", 41, {"a": 1})
    assert store.append("alice", "things", {})["id"] == 42


def test_a_lower_explicit_id_does_not_lower_the_next_id(store):
    store.replace("alice", "things", 41, {})
    store.merge("alice", "things", 3, {})
    assert store.append("alice", "things", {})["id"] == 42


@pytest.mark.sqlite_only
def test_append_takes_above_the_largest_id_even_when_the_counter_lags(store):
    store.replace("alice", "things", 7, {})
    connection = store.databases.connection(store.path("alice"))
    connection.execute("UPDATE stores SET next_id = 1")
    assert store.append("alice", "things", {})["id"] == 8


def test_postgres_append_takes_above_the_largest_id_even_when_the_counter_lags(postgres_url):
    from hipflask.postgres import PostgresSettings

    from store.postgres import PostgresStore
    store = PostgresStore(PostgresSettings(postgres_url, 2, 2.0, 5.0)).open()
    store.replace("alice", "things", 7, {})
    with store.database.connection() as connection:
        connection.execute("UPDATE store_stores SET next_id = 1")
    assert store.append("alice", "things", {})["id"] == 8
    store.close()


def test_reads_of_a_missing_namespace_are_empty(store):
    assert store.get("nobody", "things", 1) is None
    assert store.list("nobody", "things").items == []
    assert store.stores("nobody") == []
    assert store.delete("nobody", "things", [1]) == []


def test_ids_are_per_store(store):
    store.append("alice", "one", {})
    assert store.append("alice", "two", {})["id"] == 1


def test_updated_strictly_increases_within_a_store(store):
    stamps = [store.append("alice", "things", {})["updated"] for _ in range(50)]
    stamps.append(store.merge("alice", "things", 1, {"a": 1}).item["updated"])
    assert stamps == sorted(set(stamps))


def test_every_write_gives_the_item_a_new_etag(store):
    store.append("alice", "things", {})
    etags = {store.get("alice", "things", 1).etag}
    etags.add(store.merge("alice", "things", 1, {"a": 1}).etag)
    etags.add(store.replace("alice", "things", 1, {"a": 1}).etag)
    etags.add(store.get("alice", "things", 1).etag)
    assert len(etags) == 3


def test_a_write_to_another_item_leaves_an_items_etag_alone(store):
    store.append("alice", "things", {})
    etag = store.get("alice", "things", 1).etag
    store.append("alice", "things", {})
    assert store.get("alice", "things", 1).etag == etag


def test_the_store_version_changes_on_every_write_and_delete(store):
    versions = [store.list("alice", "things").version]
    store.append("alice", "things", {})
    versions.append(store.list("alice", "things").version)
    store.merge("alice", "things", 1, {"a": 1})
    versions.append(store.list("alice", "things").version)
    store.delete("alice", "things", [1])
    versions.append(store.list("alice", "things").version)
    assert len(set(versions)) == 4


def test_a_delete_of_nothing_leaves_the_version_alone(store):
    store.append("alice", "things", {})
    version = store.list("alice", "things").version
    store.delete("alice", "things", [9])
    assert store.list("alice", "things").version == version


def test_not_modified_skips_reading_the_items(store):
    store.append("alice", "things", {})
    version = store.list("alice", "things").version
    page = store.list("alice", "things", not_modified=lambda seen: seen == version)
    assert page.items is None and page.version == version


def test_a_failed_if_match_writes_nothing(store):
    store.append("alice", "things", {"a": 1})
    version = store.list("alice", "things").version
    with pytest.raises(PreconditionFailed):
        store.merge("alice", "things", 1, {"a": 2}, if_match={"stale"})
    with pytest.raises(PreconditionFailed):
        store.delete("alice", "things", [1], if_match={"stale"})
    assert json.loads(store.get("alice", "things", 1).text)["a"] == 1
    assert store.list("alice", "things").version == version


def test_if_match_on_a_multi_delete_needs_every_item_to_match(store):
    store.append("alice", "things", {})
    store.append("alice", "things", {})
    with pytest.raises(PreconditionFailed):
        store.delete("alice", "things", [1, 2], if_match={store.get("alice", "things", 1).etag})
    assert store.delete("alice", "things", [1, 2], if_match={"*"}) == [1, 2]


def test_if_match_star_needs_the_item_to_exist(store):
    with pytest.raises(PreconditionFailed):
        store.replace("alice", "things", 1, {}, if_match={"*"})
    assert store.get("alice", "things", 1) is None


def test_a_non_finite_number_is_refused_and_nothing_is_written(store):
    with pytest.raises(HipflaskError) as raised:
        store.append("alice", "things", {"a": float("nan")})
    assert raised.value.status == 400
    store.append("alice", "things", {})
    with pytest.raises(HipflaskError):
        store.merge("alice", "things", 1, {"a": float("inf")})
    assert store.list("alice", "things").total == 1
    assert "a" not in json.loads(store.get("alice", "things", 1).text)


@pytest.mark.sqlite_only
def test_a_bad_store_name_is_refused_before_anything_is_touched(store):
    with pytest.raises(HipflaskError):
        store.append("alice", "../escape", {})
    assert os.listdir(store.data_dir) == []


def test_merge_fields_removes_null_and_the_string_null():
    assert db.merge_fields({"a": 1, "b": 2, "c": 3}, {"a": None, "b": "null", "d": {"x": None}}) == {
        "c": 3, "d": {"x": None}}


@pytest.mark.parametrize("target, patch, result", [  # the examples of RFC 7396, appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_follows_rfc_7396(target, patch, result):
    assert db.merge_patch(target, patch) == result


def test_concurrent_merges_of_different_fields_lose_none(store):
    store.append("alice", "things", {})

    def writer(n):
        for round_ in range(10):
            store.merge("alice", "things", 1, {f"w{n}r{round_}": n})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    item = json.loads(store.get("alice", "things", 1).text)
    assert {f"w{n}r{r}" for n in range(8) for r in range(10)} <= set(item)


def test_concurrent_appends_get_unique_ids_their_own_data_and_updated_increasing_with_the_id(store):
    outcomes = race(8, lambda n: [store.append("alice", "things", {"w": n, "i": i}) for i in range(10)])
    appended = {item["id"]: (item["w"], item["i"]) for items in outcomes.values() for item in items}
    assert sorted(appended.values()) == [(n, i) for n in range(8) for i in range(10)]
    items = texts(store.list("alice", "things"))
    assert {item["id"]: (item["w"], item["i"]) for item in items} == appended
    updated = [item["updated"] for item in sorted(items, key=lambda item: item["id"])]
    assert all(earlier < later for earlier, later in zip(updated, updated[1:]))


def test_of_concurrent_replaces_holding_the_same_etag_exactly_one_wins_and_the_losers_write_nothing(store):
    store.append("alice", "things", {"w": "first"})
    etag = store.get("alice", "things", 1).etag
    outcomes = race(8, lambda n: store.replace("alice", "things", 1, {"w": n}, if_match={etag}))
    winners = [n for n, outcome in outcomes.items() if not isinstance(outcome, Exception)]
    assert len(winners) == 1
    assert all(isinstance(outcomes[n], PreconditionFailed) for n in outcomes if n not in winners)
    item = store.get("alice", "things", 1)
    assert (json.loads(item.text)["w"], item.etag) == (winners[0], outcomes[winners[0]].etag)


def test_a_refused_write_among_concurrent_writers_fails_alone(store):
    store.append("alice", "things", {"w": "kept"})

    def write(n):
        if n % 2:
            return store.replace("alice", "things", 1, {"w": n}, create_only=True)
        return store.append("alice", "things", {"w": n})

    outcomes = race(8, write)
    assert all(isinstance(outcomes[n], PreconditionFailed) for n in range(1, 8, 2))
    items = texts(store.list("alice", "things"))
    assert sorted(item["w"] for item in items if item["id"] > 1) == [0, 2, 4, 6]
    assert json.loads(store.get("alice", "things", 1).text)["w"] == "kept"


def _append_in_a_process(data_dir, worker, count, results):
    opened = open_store(data_dir)
    results.put([(opened.append("shared", "things", {"worker": worker, "n": n})["id"], worker, n)
                 for n in range(count)])


def test_appends_from_many_processes_get_unique_ids_with_their_own_data(tmp_path):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=_append_in_a_process, args=(tmp_path, worker, 50, results))
                 for worker in range(8)]
    for process in processes:
        process.start()
    acknowledged = [entry for _ in processes for entry in results.get(timeout=120)]
    for process in processes:
        process.join(30)
        assert process.exitcode == 0
    ids = [item_id for item_id, _, _ in acknowledged]
    assert sorted(ids) == list(range(1, 401))
    stored = {item["id"]: (item["worker"], item["n"]) for item in texts(open_store(tmp_path).list("shared", "things"))}
    assert stored == {item_id: (worker, n) for item_id, worker, n in acknowledged}


def _append_then_die(data_dir, acknowledgements):
    opened = open_store(data_dir)
    for n in range(20):
        acknowledgements.send(opened.append("alice", "things", {"n": n})["id"])
    os.kill(os.getpid(), signal.SIGKILL)


def test_acknowledged_appends_survive_a_sigkill_of_the_writer(tmp_path):
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_append_then_die, args=(tmp_path, sender))
    process.start()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL
    acknowledged = [receiver.recv() for _ in range(20)]
    page = open_store(tmp_path).list("alice", "things")
    assert [item["id"] for item in texts(page)] == acknowledged


@pytest.mark.sqlite_only
def test_many_namespaces_keep_a_bounded_number_of_files_open(store):
    for n in range(100):
        store.append(f"user{n}", "things", {"n": n})
        assert store.get(f"user{n}", "things", 1) is not None
    data_dir = str(store.data_dir.resolve())
    open_files = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")]
    assert len([path for path in open_files if path.startswith(data_dir)]) <= 3 * db.OPEN_FILES_PER_THREAD
    assert json.loads(store.get("user0", "things", 1).text)["n"] == 0


def test_list_reads_total_with_filters_and_paging(store):
    for n in range(7):
        store.append("alice", "things", {"odd": n % 2})
    page = store.list("alice", "things", Query(limit=2, offset=1, filters=(Filter(("odd",), ("1",)),)))
    assert [item["id"] for item in texts(page)] == [4, 6]
    assert page.total == 3


def test_stores_lists_names_with_counts(store):
    store.append("alice", "b", {})
    store.append("alice", "a", {})
    store.append("alice", "a", {})
    assert store.stores("alice") == [{"name": "a", "count": 2}, {"name": "b", "count": 1}]


def test_sync_is_full_by_default(build_app):
    app = build_app(build)
    store = hipflask.state(app).storage
    store.append("alice", "things", {})
    assert store.databases.connection(store.path("alice")).execute("PRAGMA synchronous").fetchone()[0] == 2


def test_store_sync_normal_relaxes_sync(build_app):
    app = build_app(build, STORE_SYNC="normal")
    store = hipflask.state(app).storage
    store.append("alice", "things", {})
    assert store.databases.connection(store.path("alice")).execute("PRAGMA synchronous").fetchone()[0] == 1


def test_a_bad_store_sync_stops_the_service_naming_it(build_app):
    with pytest.raises(ConfigError, match="STORE_SYNC"):
        build_app(build, STORE_SYNC="fast")


@pytest.mark.parametrize("vfs", ["no-such-vfs", "unix-dotfile"])
def test_a_vfs_that_cannot_run_wal_stops_the_service_naming_it(build_app, vfs):
    with pytest.raises(ConfigError, match="SQLITE_VFS"):
        build_app(build, SQLITE_VFS=vfs)


def test_starting_creates_no_namespace_file(build_app, service_env):
    build_app(build, SQLITE_VFS="unix")
    assert os.listdir(service_env["DATA_DIR"]) == []


def test_a_data_dir_that_cannot_be_created_stops_the_service_naming_it(build_app, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="DATA_DIR"):
        build_app(build, DATA_DIR=str(tmp_path / "file" / "data"))


def test_readiness_checks_the_data_directory(build_app):
    client = build_app(build).test_client()
    assert client.get("/_hipflask/ready").status_code == 200


def _postgres_plan(postgres_url, query, count: bool = False):
    from hipflask.postgres import PostgresSettings

    from store import postgres_sql
    from store.postgres import PostgresStore
    store = PostgresStore(PostgresSettings(postgres_url, 2, 2.0, 5.0)).open()
    store.append("alice", "things", {})
    where, params = postgres_sql.where("alice", "things", query)
    params["limit"], params["offset"] = query.limit, query.offset
    with store.database.connection() as connection:  # 50,000 items, 10 of them in Paris, the last 10 updated late
        connection.execute("""
            INSERT INTO store_items (namespace, store, id, body, data, etag, created, updated)
            SELECT 'alice', 'things', n, item::text, item, 'e', n, CASE WHEN n > 49990 THEN 1000000000000 + n ELSE n END
            FROM generate_series(2, 50001) AS n,
                 LATERAL (SELECT jsonb_build_object('id', n, 'address', jsonb_build_object(
                     'city', CASE WHEN n % 5000 = 0 THEN 'Paris' ELSE 'city' || n END)) AS item) AS built""")
        connection.execute("ANALYZE store_items")
        statement = (f"SELECT count(*) FROM store_items WHERE {where}" if count else
                     f"SELECT body FROM store_items WHERE {where} ORDER BY {postgres_sql.order_by(query, params)} "
                     "LIMIT %(limit)s OFFSET %(offset)s")
        plan = " ".join(row[0] for row in connection.execute(f"EXPLAIN {statement}", params))
    store.close()
    return plan


def test_postgres_filters_on_nested_fields_use_the_jsonb_index(postgres_url):
    # The count behind X-Total-Count: a page's ORDER BY id LIMIT may walk the primary key instead
    # when the planner expects matches early (its estimate for jsonb containment is a constant).
    plan = _postgres_plan(postgres_url, Query(filters=(Filter(("address", "city"), ("Paris",)),)), count=True)
    assert "store_items_data" in plan


def test_postgres_since_uses_the_updated_index(postgres_url):
    assert "store_items_updated" in _postgres_plan(postgres_url, Query(since=10**12))


def test_strings_with_nul_and_unpaired_surrogates_are_kept_as_sent(store):
    fields = {"nul": "a\x00b", "lone": "\ud800", "pair": "\U0001f600", "n": 1}
    item = store.append("alice", "odd", fields)
    assert {key: item[key] for key in fields} == fields
    assert json.loads(store.get("alice", "odd", item["id"]).text)["nul"] == "a\x00b"
    store.replace("alice", "odd", 7, fields)
    assert json.loads(store.get("alice", "odd", 7).text)["lone"] == "\ud800"
    assert len(texts(store.list("alice", "odd", Query(filters=(Filter(("n",), ("1",)),))))) == 2
