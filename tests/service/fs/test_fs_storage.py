"""The storage contract of fs (fs.backend.FileStore), without HTTP, run against every backend: the
local volume (with extended attributes and with sidecars) and S3 (a real SeaweedFS server). Tests
that take `local_volume` pin what only a local volume has (symlinks, file modes, sidecars)."""
import hashlib
import io
import os
import threading
import time
import uuid

import pytest

from hipflask.s3 import S3Settings

from fs.errors import Conflict, Exists, NotFound, TooLarge
from fs.paths import BadPath
from fs.s3 import S3Store
from fs.volume import Volume

BUCKET = "hipflask-test"


def local(kind: str, tmp_path) -> Volume:
    volume = Volume(tmp_path / "data", max_size=1024 * 1024, hostname="test-host")
    if kind == "sidecar":
        volume.xattrs = False
    elif not volume.xattrs:
        pytest.skip("this file system has no user extended attributes")
    return volume


def on_s3(endpoint: str, client, tmp_path) -> S3Store:
    settings = S3Settings(endpoint, BUCKET, "us-east-1", "test", "test", prefix=f"t-{uuid.uuid4().hex}")

    def claim(key, token, seconds):
        return bool(client.set(f"test:claim:{key}", token, nx=True, ex=seconds))

    store = S3Store(settings, tmp_path / "scratch", max_size=1024 * 1024, claim=claim,
                    release=lambda key: client.delete(f"test:claim:{key}"), hostname="test-host")
    store.ensure_bucket()
    return store


@pytest.fixture(params=["xattr", "sidecar", "s3"])
def volume(request, tmp_path):
    if request.param == "s3":
        return on_s3(request.getfixturevalue("s3_endpoint"), request.getfixturevalue("redis_client"), tmp_path)
    return local(request.param, tmp_path)


@pytest.fixture(params=["xattr", "sidecar"])
def local_volume(request, tmp_path):
    return local(request.param, tmp_path)


def content(volume, relpath: str) -> bytes:
    """The bytes stored at `relpath` (`files/...`, `uploads/...`), read from the backend itself."""
    if isinstance(volume, S3Store):
        return volume.client.get_object(Bucket=volume.bucket, Key=volume.prefix + relpath)["Body"].read()
    return (volume.root / relpath).read_bytes()


def received(volume, data: bytes):
    return volume.receive(io.BytesIO(data))


def test_put_stores_the_bytes_with_their_sha256(volume):
    stored = volume.put("a/b/c.bin", received(volume, b"payload"))
    assert stored.relpath == "files/a/b/c.bin"
    assert stored.sha256 == hashlib.sha256(b"payload").hexdigest()
    assert content(volume, "files/a/b/c.bin") == b"payload"


def test_put_replaces_an_existing_file(volume):
    volume.put("x.txt", received(volume, b"old"))
    volume.put("x.txt", received(volume, b"new"))
    assert content(volume, "files/x.txt") == b"new"


def test_put_leaves_no_temporary_file(volume):
    volume.put("x.txt", received(volume, b"data"))
    assert os.listdir(volume.tmp) == []


def test_stored_files_are_readable_by_the_gateway(local_volume):
    local_volume.put("d/x.txt", received(local_volume, b"data"))
    assert (local_volume.root / "files/d/x.txt").stat().st_mode & 0o777 == 0o644
    assert (local_volume.root / "files/d").stat().st_mode & 0o777 == 0o755


def test_put_onto_a_folder_is_a_conflict(volume):
    volume.put("d/x.txt", received(volume, b"data"))
    with pytest.raises(Conflict):
        volume.put("d", received(volume, b"data"))
    assert os.listdir(volume.tmp) == []


def test_put_below_a_file_is_a_conflict(volume):
    volume.put("f", received(volume, b"data"))
    with pytest.raises(Conflict):
        volume.put("f/x.txt", received(volume, b"data"))


def test_create_refuses_an_existing_name_and_keeps_the_first_file(volume):
    volume.create("p", "x.txt", received(volume, b"first"))
    with pytest.raises(Exists):
        volume.create("p", "x.txt", received(volume, b"second"))
    assert content(volume, "uploads/p/x.txt") == b"first"
    assert os.listdir(volume.tmp) == []


def test_create_lets_exactly_one_of_racing_writers_win(volume):
    barrier = threading.Barrier(8)
    outcomes = []

    def racer(number):
        incoming = received(volume, f"writer {number}".encode())
        barrier.wait()
        try:
            volume.create("race", "same.txt", incoming)
            outcomes.append(("won", number))
        except Exists:
            incoming.discard()
            outcomes.append(("lost", number))

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [number for outcome, number in outcomes if outcome == "won"]
    assert len(winners) == 1
    assert content(volume, "uploads/race/same.txt") == f"writer {winners[0]}".encode()
    assert os.listdir(volume.tmp) == []


def test_create_refuses_a_reserved_partition(volume):
    with pytest.raises(BadPath):
        volume.create("list", "x.txt", received(volume, b"data"))


def test_receive_over_the_size_limit_raises_and_keeps_nothing(volume):
    with pytest.raises(TooLarge):
        received(volume, b"x" * (volume.max_size + 1))
    assert os.listdir(volume.tmp) == []


def test_locate_names_the_file_its_size_and_sha256(volume):
    volume.put("a/b.txt", received(volume, b"12345"))
    located = volume.locate_file("a/b.txt")
    assert (located.relpath, located.name, located.size) == ("files/a/b.txt", "b.txt", 5)
    assert located.sha256 == hashlib.sha256(b"12345").hexdigest()


def test_locate_finds_a_regular_file(local_volume):
    local_volume.put("a/b.txt", received(local_volume, b"12345"))
    located = local_volume.locate_file("a/b.txt")
    assert (located.relpath, located.name, located.size) == ("files/a/b.txt", "b.txt", 5)
    assert located.path == local_volume.root / "files/a/b.txt"


@pytest.mark.parametrize("names", [("missing.txt",), ("no", "such", "file"), ("a",)])
def test_locate_of_a_missing_file_or_a_folder_is_not_found(volume, names):
    volume.put("a/b.txt", received(volume, b"data"))
    with pytest.raises(NotFound):
        volume.locate_file("/".join(names))


@pytest.mark.parametrize("names", [("..", "x"), (".",), ("",), ("a\\b",), ("a\x00b",), ("a\nb",)])
def test_unsafe_names_are_refused_everywhere(volume, names):
    with pytest.raises(BadPath):
        volume.locate_file("/".join(names))
    with pytest.raises(BadPath):
        volume.delete("/".join(names))
    with pytest.raises(BadPath):
        volume.put("/".join(names), received(volume, b"data"))


def test_a_symlinked_folder_in_the_volume_is_refused(local_volume, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, local_volume.root / "files" / "link")
    with pytest.raises(BadPath):
        local_volume.locate_file("link/secret.txt")
    with pytest.raises(BadPath):
        local_volume.put("link/new.txt", received(local_volume, b"data"))
    with pytest.raises(BadPath):
        local_volume.delete("link/secret.txt")
    assert sorted(os.listdir(outside)) == ["secret.txt"]


def test_a_symlinked_file_in_the_volume_is_refused(local_volume, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    os.symlink(secret, local_volume.root / "files" / "link.txt")
    with pytest.raises(BadPath):
        local_volume.locate_file("link.txt")
    with pytest.raises(BadPath):
        local_volume.put("link.txt", received(local_volume, b"overwrite"))
    with pytest.raises(BadPath):
        local_volume.delete("link.txt")
    assert secret.read_text() == "secret"


def test_a_symlinked_partition_is_refused_in_listing_and_download(local_volume, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, local_volume.root / "uploads" / "linked")
    with pytest.raises(BadPath):
        local_volume.listing("linked")
    with pytest.raises(BadPath):
        local_volume.locate_upload("linked", "secret.txt")


def test_a_symlinked_data_folder_is_refused(local_volume, tmp_path):
    (local_volume.root / "files").rmdir()
    os.symlink(tmp_path, local_volume.root / "files")
    with pytest.raises(BadPath):
        local_volume.locate_file("anything")


def test_delete_removes_the_file(volume):
    volume.put("a/b.txt", received(volume, b"data"))
    volume.delete("a/b.txt")
    with pytest.raises(NotFound):
        volume.locate_file("a/b.txt")


def test_delete_of_a_missing_file_is_not_found(volume):
    with pytest.raises(NotFound):
        volume.delete("missing.txt")


def test_listing_names_sizes_times_and_sha256_sorted_by_name(volume):
    before = time.time()
    volume.create("p", "b.txt", received(volume, b"bb"))
    volume.create("p", "a.txt", received(volume, b"a"))
    entries = volume.listing("p")
    assert [(e.name, e.size, e.sha256) for e in entries] == [
        ("a.txt", 1, hashlib.sha256(b"a").hexdigest()), ("b.txt", 2, hashlib.sha256(b"bb").hexdigest())]
    assert all(before - 2 <= e.modified <= time.time() + 2 for e in entries)
    assert entries[0].as_json()["modified"].endswith("Z")


def test_listing_of_an_unknown_partition_is_empty(volume):
    assert volume.listing("nobody") == []


def test_listing_skips_links_and_folders(local_volume, tmp_path):
    local_volume.create("p", "real.txt", received(local_volume, b"data"))
    os.symlink(tmp_path, local_volume.root / "uploads/p/link")
    (local_volume.root / "uploads/p/folder").mkdir()
    assert [e.name for e in local_volume.listing("p")] == ["real.txt"]


def test_listing_computes_and_keeps_a_missing_sha256(local_volume):
    folder = local_volume.root / "uploads" / "p"
    folder.mkdir(parents=True)
    (folder / "placed.txt").write_bytes(b"placed by hand")
    expected = hashlib.sha256(b"placed by hand").hexdigest()
    assert local_volume.listing("p")[0].sha256 == expected
    fd = os.open(folder / "placed.txt", os.O_RDONLY)
    try:
        assert local_volume.checksums.read(fd, ("uploads", "p", "placed.txt"), os.fstat(fd)) == expected
    finally:
        os.close(fd)


def test_a_sidecar_of_a_changed_file_is_not_trusted(tmp_path):
    volume = Volume(tmp_path / "data", max_size=1024, hostname="test-host")
    volume.xattrs = False
    volume.create("p", "x.txt", received(volume, b"one"))
    path = volume.root / "uploads/p/x.txt"
    path.write_bytes(b"changed")
    os.utime(path, ns=(1, 1))
    assert volume.listing("p")[0].sha256 == hashlib.sha256(b"changed").hexdigest()


def test_clean_temporaries_removes_dead_and_stale_ones_and_keeps_live_ones(tmp_path):
    volume = Volume(tmp_path / "data", max_size=1024, hostname="test-host")
    live = volume.incoming()
    dead = volume.tmp / "test-host~999999999~1~dead.part"
    other_host = volume.tmp / "elsewhere~999999999~1~other.part"
    stale = volume.tmp / "elsewhere~1~1~stale.part"
    for path in (dead, other_host, stale):
        path.write_bytes(b"partial")
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    assert volume.clean_temporaries() == 2
    assert sorted(os.listdir(volume.tmp)) == sorted([live.path.name, other_host.name])
    live.discard()


def test_a_discarded_incoming_file_leaves_nothing(volume):
    incoming = volume.incoming()
    incoming.write(b"partial")
    incoming.discard()
    assert os.listdir(volume.tmp) == []


def test_a_namespace_view_sees_only_its_own_files_and_partitions(volume):
    alice, bob = volume.scoped("alice"), volume.scoped("bob")
    alice.put("a.txt", received(volume, b"alice's"))
    alice.create("p", "n.txt", received(volume, b"x"))
    assert alice.locate_file("a.txt").size == len(b"alice's")
    for other in (bob, volume):
        with pytest.raises(NotFound):
            other.locate_file("a.txt")
        assert other.listing("p") == []
    assert [entry.name for entry in alice.listing("p")] == ["n.txt"]


@pytest.mark.parametrize("namespace", ["..", ".", "a/b", ""])
def test_a_namespace_view_of_an_unsafe_name_is_refused(volume, namespace):
    with pytest.raises(BadPath):
        volume.scoped(namespace)
