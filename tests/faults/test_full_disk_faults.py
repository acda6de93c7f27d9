"""A full data volume: every write answers 507 no_space in the one error shape and changes
nothing, old data stays readable, /diagnostic fails naming the service and its volume, and
writes work again once space is freed, without a restart.

The native stack runs with its data folder (every service's DATA_DIR) on a small tmpfs.
"""
from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from hipflask.sqlite import Databases
from hipflask.storage_errors import is_no_space
from stacks import NativeStack
from support import missing, wait_until

TMPFS_SIZE = "48m"
DISK_MIN_FREE = "16m"
AUTH = {"Authorization": "Bearer test-token"}


def mount_tmpfs(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(volume: Path) -> Path:
    """A file taking every free byte of the volume (unbuffered writes, smaller and smaller)."""
    filler = volume / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1024 * 1024, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def need_root() -> None:
    if os.geteuid() != 0:
        missing("mounting a tmpfs for the full-disk test needs root (CI runs as root)")


@pytest.fixture
def small_tmpfs(tmp_path):
    need_root()
    folder = tmp_path / "small"
    folder.mkdir()
    mount_tmpfs(folder, "2m")
    yield folder
    unmount(folder)


def test_a_closed_wal_database_stays_readable_on_a_full_volume(small_tmpfs):
    """No connection left means no -shm file, and a WAL reader cannot make one on a full volume:
    the reader falls back to the checkpointed database file, read as immutable."""
    path = small_tmpfs / "ns.sqlite3"
    schema = lambda connection: connection.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")  # noqa: E731
    writer = Databases(schema=schema)
    with writer.write(path) as connection:
        connection.execute("INSERT INTO t VALUES ('old')")
    writer.close_all()
    fill(small_tmpfs)
    reader = Databases(schema=schema)
    assert reader.connection(path).execute("SELECT v FROM t").fetchall() == [("old",)]


@pytest.fixture(scope="module")
def small_volume_stack():
    need_root()
    var = Path(tempfile.mkdtemp(prefix="hipflask-full-"))
    data = var / "data"
    data.mkdir()
    try:
        mount_tmpfs(data, TMPFS_SIZE)
    except Exception as exc:
        shutil.rmtree(var, ignore_errors=True)
        missing(f"cannot mount a tmpfs: {exc}")
    stack = NativeStack({"GATEWAY_ACCESS_LOG": "off", "DISK_MIN_FREE": DISK_MIN_FREE}, var=var)
    try:
        with stack as running:
            yield running
    finally:
        unmount(data)
        shutil.rmtree(var, ignore_errors=True)


def writes(url: str) -> dict:
    """Every kind of write, each answering its response."""
    return {
        "kv PUT": requests.put(f"{url}/kv/full/new", data=b"new", headers={"Content-Type": "text/plain"}),
        "kv POST": requests.post(f"{url}/kv/full/json", json={"a": 1}),
        "store POST": requests.post(f"{url}/store/full", json={"v": "new"}),
        "store PUT": requests.put(f"{url}/store/full/1", json={"v": "new"}),
        "store PATCH": requests.patch(f"{url}/store/full/1", data=b'{"v": "new"}',
                                      headers={"Content-Type": "application/merge-patch+json"}),
        "fs PUT": requests.put(f"{url}/fs/full/new.bin", data=b"n" * 200_000),
        "fs PUT large": requests.put(f"{url}/fs/full/large.bin", data=b"n" * (3 * 1024 * 1024)),
        "uploader": requests.post(f"{url}/fullpart", files={"file": ("new.bin", b"n" * 200_000)}),
        "uploader PUT": requests.put(f"{url}/fullpart/put.bin", data=b"n" * 200_000),
        "template PUT": requests.put(f"{url}/template/full.html", data="new {{ 2 }}", headers=AUTH),
    }


def test_full_volume_answers_507_keeps_old_data_fails_diagnostic_and_recovers(small_volume_stack):
    stack = small_volume_stack
    url = stack.url
    assert requests.put(f"{url}/kv/full/old", data=b"old", headers={"Content-Type": "text/plain"}).ok
    assert requests.put(f"{url}/store/full/1", json={"v": "old"}).ok
    assert requests.put(f"{url}/fs/full/old.bin", data=b"o" * 1000).ok
    assert requests.put(f"{url}/template/full.html", data="old {{ 1 }}", headers=AUTH).ok
    assert requests.get(f"{url}/diagnostic").status_code == 200

    filler = fill(stack.var / "data")
    try:
        answers = writes(url)
        for name, response in answers.items():
            assert response.status_code == 507, (name, response.status_code, response.text[:300])
            assert response.headers["Content-Type"].startswith("application/json"), name
            assert response.json()["code"] == "no_space", name

        assert requests.get(f"{url}/kv/full/old").content == b"old"
        assert requests.get(f"{url}/kv/full/new").status_code == 404
        listed = requests.get(f"{url}/store/full")
        assert listed.status_code == 200, listed.text[:300]
        assert [item["v"] for item in listed.json()] == ["old"]
        assert requests.get(f"{url}/fs/full/old.bin").content == b"o" * 1000
        assert requests.get(f"{url}/fs/full/new.bin").status_code == 404
        assert requests.get(f"{url}/list/fullpart?format=json").json() == []
        assert requests.get(f"{url}/render/full.html").text.startswith("old 1")

        def diagnostic_fails():
            response = requests.get(f"{url}/diagnostic")
            body = response.json()
            return response.status_code == 500 and {"store", "kv", "fs", "render"} <= set(body["failed"]) and body
        body = wait_until(diagnostic_fails, 10, "/diagnostic to fail on the full volume")
        assert {"store", "kv", "fs", "render"} <= set(body["failed"])
        detail = body["checks"]["fs"]["detail"]
        assert str(stack.data_dir("fs")) in detail["error"] and "DISK_MIN_FREE" in detail["error"]
    finally:
        filler.unlink()

    for name, response in writes(url).items():
        assert response.status_code in (200, 201), (name, response.status_code, response.text[:300])
    assert requests.get(f"{url}/kv/full/new").content == b"new"
    assert requests.get(f"{url}/fs/full/large.bin").content == b"n" * (3 * 1024 * 1024)
    wait_until(lambda: requests.get(f"{url}/diagnostic").status_code == 200, 10, "/diagnostic to pass again")


def test_a_write_refused_by_a_full_volume_leaves_the_connection_ready_for_the_next(small_tmpfs):
    path = small_tmpfs / "ns.sqlite3"
    databases = Databases(schema=lambda connection: connection.execute("CREATE TABLE IF NOT EXISTS t (v BLOB)"))
    with databases.write(path) as connection:
        connection.execute("INSERT INTO t VALUES ('old')")
    filler = fill(small_tmpfs)
    with pytest.raises(sqlite3.OperationalError) as raised:
        with databases.write(path) as connection:
            connection.execute("INSERT INTO t VALUES (?)", (b"n" * 100,))
    assert is_no_space(raised.value)
    assert not databases.connection(path).in_transaction
    filler.unlink()
    with databases.write(path) as connection:
        connection.execute("INSERT INTO t VALUES ('new')")
    assert len(databases.connection(path).execute("SELECT v FROM t").fetchall()) == 2
    databases.close_all()
