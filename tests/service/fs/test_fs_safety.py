"""No request reaches outside the volume: every traversal form, directly against the app."""
import io
import os

import pytest

TRAVERSALS = [
    "/fs/../outside.txt",
    "/fs/a/../../outside.txt",
    "/fs/./a.txt",
    "/fs/%2e%2e/outside.txt",
    "/fs/%2E%2E/outside.txt",
    "/fs/.%2e/outside.txt",
    "/fs/a%2f..%2f..%2foutside.txt",
    "/fs/..%2foutside.txt",
    "/fs//etc/passwd",
    "/fs/%2fetc/passwd",
    "/fs/a%00.txt",
    "/fs/..\\outside.txt",
    "/fs/a%5c..%5coutside.txt",
]
UPLOADER_TRAVERSALS = [
    "/p/..",
    "/p/%2e%2e",
    "/dl/p/..",
    "/dl/p/%2e%2e%2f%2e%2e%2foutside.txt",
    "/dl/%2e%2e/outside.txt",
    "/list/..",
    "/list/%2e%2e",
    "/p/a%00.txt",
    "/p/..\\..\\outside.txt",
]


@pytest.fixture
def outside(data_dir):
    """A file just outside the volume's files folder, and one outside the volume."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "outside.txt").write_bytes(b"must stay private")
    (data_dir.parent / "outside.txt").write_bytes(b"must stay private")
    return data_dir / "outside.txt"


def refused(response):
    assert response.status_code in (400, 404), response.status_code
    assert response.mimetype == "application/json"
    assert b"must stay private" not in response.get_data()
    assert "X-Accel-Redirect" not in response.headers
    return True


@pytest.mark.parametrize("path", TRAVERSALS + UPLOADER_TRAVERSALS)
def test_download_traversals_are_refused(direct, outside, path):
    assert refused(direct.get(path))


@pytest.mark.parametrize("path", TRAVERSALS + UPLOADER_TRAVERSALS)
def test_download_traversals_are_refused_with_the_gateway_handoff_too(client, outside, path):
    assert refused(client.get(path))


@pytest.mark.parametrize("path", TRAVERSALS)
def test_upload_traversals_are_refused_and_write_nothing(client, outside, data_dir, leftovers, path):
    before = sorted(os.listdir(data_dir.parent))
    assert refused(client.post(path, data={"file": (io.BytesIO(b"evil"), "x.txt")}))
    assert refused(client.put(path, data=b"evil"))
    assert sorted(os.listdir(data_dir.parent)) == before
    assert (data_dir / "outside.txt").read_bytes() == b"must stay private"
    assert os.listdir(data_dir / "files") == []
    assert leftovers() == []


@pytest.mark.parametrize("path", TRAVERSALS)
def test_delete_traversals_are_refused(client, outside, path):
    assert refused(client.delete(path))
    assert outside.read_bytes() == b"must stay private"
    assert (outside.parent.parent / "outside.txt").exists()


@pytest.mark.parametrize("path", ["/..", "/%2e%2e", "/a%2fb", "/.hidden", "/_fs_files"])
def test_partition_upload_traversals_are_refused(client, outside, path, leftovers):
    assert refused(client.post(path, data={"file": (io.BytesIO(b"evil"), "x.txt")}))
    assert leftovers() == []


def test_a_symlink_planted_in_the_files_folder_is_refused(client, data_dir, outside):
    os.symlink(data_dir.parent, data_dir / "files" / "planted")
    os.symlink(outside, data_dir / "files" / "planted.txt")
    assert refused(client.get("/fs/planted/outside.txt"))
    assert refused(client.get("/fs/planted.txt"))
    assert refused(client.post("/fs/planted/new.txt", data={"file": (io.BytesIO(b"evil"), "x.txt")}))
    assert refused(client.put("/fs/planted.txt", data=b"evil"))
    assert refused(client.delete("/fs/planted.txt"))
    assert outside.read_bytes() == b"must stay private"
    assert not (data_dir.parent / "new.txt").exists()


def test_a_symlink_planted_as_a_partition_is_refused(client, data_dir, outside):
    os.symlink(data_dir, data_dir / "uploads" / "planted")
    assert refused(client.get("/planted/outside.txt"))
    assert refused(client.get("/dl/planted/outside.txt"))
    assert refused(client.get("/list/planted"))
    assert refused(client.get("/list/planted?format=json"))
    assert refused(client.post("/planted", data={"file": (io.BytesIO(b"evil"), "x.txt")}))
    assert not (data_dir / "x.txt").exists()


def test_a_symlink_planted_as_an_uploaded_file_is_refused(client, data_dir, outside):
    (data_dir / "uploads" / "p").mkdir()
    os.symlink(outside, data_dir / "uploads" / "p" / "x.txt")
    assert refused(client.get("/p/x.txt"))
    response = client.post("/p", data={"file": (io.BytesIO(b"evil"), "x.txt")})
    assert response.status_code in (400, 409)
    assert outside.read_bytes() == b"must stay private"
    assert "x.txt" not in client.get("/list/p").get_data(as_text=True)
