"""The migration command copies SQLite's store and kv namespaces into PostgreSQL, item by item."""
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from hipflask.postgres import PostgresSettings

from kv.postgres import PostgresKV
from kv.sqlite import KVStore
from store.db import open_store
from store.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[2]
NAMESPACES = ("DEFAULT", "alice", "bob_40x")


def migrate(service: str, data_dir: Path, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services" / service), "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", f"{service}.migrate", "--data-dir", str(data_dir)],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def sqlite_data(tmp_path_factory):
    """A few thousand store items and some kv values in three namespaces, with deletes and merges."""
    root = tmp_path_factory.mktemp("sqlite")
    store = open_store(root / "store", synchronous="OFF")
    kv = KVStore(root / "kv", max_value_size=1 << 20, synchronous="OFF")
    for namespace in NAMESPACES:
        for name in ("todos", "people"):
            for n in range(600):
                store.append(namespace, name, {"n": n, "name": f"{namespace}-{n}", "nested": {"even": n % 2 == 0}})
            store.delete(namespace, name, [600, 599, 10])
            store.merge(namespace, name, 5, {"merged": True})
        for n in range(200):
            kv.put(namespace, f"keys/{n}", os.urandom(64), "application/octet-stream", ttl=3600 if n % 3 else None)
        kv.put(namespace, "json", b'{"a": 1}', "application/json")
    store.close()
    kv.close()
    return root


def test_the_migration_copies_every_store_item_as_it_was(sqlite_data, postgres_url):
    result = migrate("store", sqlite_data / "store", postgres_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 namespaces with a count mismatch" in result.stdout
    source = open_store(sqlite_data / "store")
    target = PostgresStore(PostgresSettings(postgres_url, 2, 2.0, 5.0)).open()
    compared = 0
    for namespace in NAMESPACES:
        assert target.stores(namespace) == source.stores(namespace)
        for name in ("todos", "people"):
            assert target.list(namespace, name).version == source.list(namespace, name).version
            for item_id in range(1, 602):
                assert target.get(namespace, name, item_id) == source.get(namespace, name, item_id)
                compared += 1
            assert target.append(namespace, name, {})["id"] == source.append(namespace, name, {})["id"] == 601
    assert compared == 3 * 2 * 601
    source.close()
    target.close()


def test_the_migration_copies_every_kv_value_with_its_etag_times_and_type(sqlite_data, postgres_url):
    result = migrate("kv", sqlite_data / "kv", postgres_url)
    assert result.returncode == 0, result.stdout + result.stderr
    source = KVStore(sqlite_data / "kv", max_value_size=1 << 20)
    target = PostgresKV(PostgresSettings(postgres_url, 2, 2.0, 5.0), max_value_size=1 << 20).open()
    for namespace in NAMESPACES:
        keys = [entry.key for entry in source.keys(namespace)]
        assert len(keys) == 201
        assert target.keys(namespace) == source.keys(namespace)
        for key in keys:
            assert target.get(namespace, key) == source.get(namespace, key)
    assert target.get("alice", "keys/1").expires is not None
    source.close()
    target.close()


def test_the_migration_run_again_copies_nothing_and_resumes_what_is_missing(sqlite_data, postgres_url):
    assert migrate("store", sqlite_data / "store", postgres_url).returncode == 0
    again = migrate("store", sqlite_data / "store", postgres_url)
    assert again.returncode == 0 and "store alice: 0 copied" in again.stdout
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # as if a run had stopped before bob
        connection.execute("DELETE FROM store_items WHERE namespace = 'bob_40x'")
        connection.execute("DELETE FROM store_stores WHERE namespace = 'bob_40x'")
    resumed = migrate("store", sqlite_data / "store", postgres_url)
    assert resumed.returncode == 0
    assert re.search(r"store bob_40x: (1[0-9]{3}) copied, \1 in SQLite, \1 in PostgreSQL: ok", resumed.stdout)


def test_the_migration_without_a_database_url_says_what_to_set(sqlite_data):
    env = {key: value for key, value in os.environ.items() if "DATABASE_URL" not in key}
    result = subprocess.run([sys.executable, "-m", "kv.migrate", "--data-dir", str(sqlite_data / "kv")],
                            env={**env, "PYTHONPATH": str(ROOT / "services" / "kv")}, capture_output=True, text=True)
    assert result.returncode == 2 and "KV_DATABASE_URL" in result.stderr
