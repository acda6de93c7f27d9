"""fs through the gateway: uploads stream to the service, nginx serves the downloads from the volume."""
from __future__ import annotations

import hashlib
import http.client
import os
import threading
import urllib.parse
import uuid

import pytest
import requests

from support import assert_error

SIZE = 6 * 1024 * 1024 + 7
LIMIT = 64 * 1024 * 1024  # FS_MAX_UPLOAD_SIZE in tests/stacks.py


@pytest.fixture(scope="module")
def blob():
    return os.urandom(SIZE)


@pytest.fixture
def unique():
    """A fresh name per test, so tests sharing the stack never see each other's files."""
    return f"t{uuid.uuid4().hex[:12]}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_request(gateway: str, method: str, path: str, body: bytes | None = None, headers=None):
    """Send `path` exactly as written (no client-side normalisation or quoting)."""
    address = urllib.parse.urlsplit(gateway)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


# ---- /fs/<path> ---------------------------------------------------------------------------------

def test_multipart_round_trip_through_the_gateway_is_byte_identical(gateway, blob, unique):
    response = requests.post(f"{gateway}/fs/{unique}/round/trip.bin", files={"file": ("trip.bin", blob)})
    assert response.status_code == 200
    assert response.text == "Thanks"
    assert response.headers["X-Content-SHA256"] == sha256(blob)
    download = requests.get(f"{gateway}/fs/{unique}/round/trip.bin")
    assert download.status_code == 200
    assert sha256(download.content) == sha256(blob)
    assert int(download.headers["Content-Length"]) == SIZE


def test_put_raw_body_round_trip_through_the_gateway(gateway, blob, unique):
    response = requests.put(f"{gateway}/fs/{unique}/put.bin", data=blob)
    assert response.status_code == 200
    assert response.headers["X-Content-SHA256"] == sha256(blob)
    assert requests.get(f"{gateway}/fs/{unique}/put.bin").content == blob


def test_download_is_served_by_the_gateway_not_passed_through_python(gateway, unique):
    requests.put(f"{gateway}/fs/{unique}/a.txt", data=b"hello")
    response = requests.get(f"{gateway}/fs/{unique}/a.txt")
    assert "X-Accel-Redirect" not in response.headers
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["X-Content-SHA256"] == sha256(b"hello")


@pytest.mark.parametrize("name, content_type", [("a.txt", "text/plain"), ("a.json", "application/json"),
                                                ("a.png", "image/png"), ("a.html", "text/html")])
def test_download_content_type_comes_from_the_file_name(gateway, unique, name, content_type):
    requests.put(f"{gateway}/fs/{unique}/{name}", data=b"data")
    assert requests.get(f"{gateway}/fs/{unique}/{name}").headers["Content-Type"].split(";")[0] == content_type


def test_range_request_answers_206_with_the_slice(gateway, blob, unique):
    requests.put(f"{gateway}/fs/{unique}/range.bin", data=blob)
    response = requests.get(f"{gateway}/fs/{unique}/range.bin", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response.content == blob[1000:2000]
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{SIZE}"


def test_suffix_range_answers_the_end_of_the_file(gateway, blob, unique):
    requests.put(f"{gateway}/fs/{unique}/range.bin", data=blob)
    response = requests.get(f"{gateway}/fs/{unique}/range.bin", headers={"Range": "bytes=-100"})
    assert response.status_code == 206
    assert response.content == blob[-100:]


def test_etag_answers_304_to_if_none_match(gateway, unique):
    requests.put(f"{gateway}/fs/{unique}/e.txt", data=b"etag me")
    etag = requests.get(f"{gateway}/fs/{unique}/e.txt").headers["ETag"]
    response = requests.get(f"{gateway}/fs/{unique}/e.txt", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_last_modified_answers_304_to_if_modified_since(gateway, unique):
    requests.put(f"{gateway}/fs/{unique}/m.txt", data=b"modified")
    last_modified = requests.get(f"{gateway}/fs/{unique}/m.txt").headers["Last-Modified"]
    response = requests.get(f"{gateway}/fs/{unique}/m.txt", headers={"If-Modified-Since": last_modified})
    assert response.status_code == 304


def test_a_new_upload_changes_the_etag(gateway, unique):
    requests.put(f"{gateway}/fs/{unique}/e.txt", data=b"one")
    etag = requests.get(f"{gateway}/fs/{unique}/e.txt").headers["ETag"]
    requests.put(f"{gateway}/fs/{unique}/e.txt", data=b"two!")
    response = requests.get(f"{gateway}/fs/{unique}/e.txt", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.content == b"two!"


def test_head_answers_the_length_without_a_body(gateway, blob, unique):
    requests.put(f"{gateway}/fs/{unique}/h.bin", data=blob)
    response = requests.head(f"{gateway}/fs/{unique}/h.bin")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == SIZE
    assert response.content == b""


def test_missing_file_is_404_json(gateway, unique):
    response = requests.get(f"{gateway}/fs/{unique}/missing.txt")
    assert_error(response, 404, "not_found")


def test_delete_removes_the_file_and_a_second_delete_is_404(gateway, unique):
    requests.put(f"{gateway}/fs/{unique}/d.txt", data=b"x")
    assert requests.delete(f"{gateway}/fs/{unique}/d.txt").status_code == 200
    assert requests.get(f"{gateway}/fs/{unique}/d.txt").status_code == 404
    assert requests.delete(f"{gateway}/fs/{unique}/d.txt").status_code == 404


def test_unicode_names_round_trip_through_the_gateway(gateway, unique):
    url = f"{gateway}/fs/{unique}/" + urllib.parse.quote("été à la mer?#%.txt")
    assert requests.put(url, data=b"summer").status_code == 200
    assert requests.get(url).content == b"summer"


def test_concurrent_puts_to_one_path_leave_one_whole_file(gateway, unique):
    bodies = [bytes([n]) * (256 * 1024) for n in range(8)]
    url = f"{gateway}/fs/{unique}/contended.bin"
    threads = [threading.Thread(target=requests.put, args=(url,), kwargs={"data": body}) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert requests.get(url).content in bodies


# ---- the uploader -------------------------------------------------------------------------------

def test_uploader_round_trip_with_attachment_disposition(gateway, blob, unique):
    response = requests.post(f"{gateway}/{unique}", files={"file": ("game save.bin", blob)})
    assert response.status_code == 200
    assert "game_save.bin" in response.text and unique in response.text
    assert response.headers["X-Content-SHA256"] == sha256(blob)
    for url in (f"{gateway}/{unique}/game_save.bin", f"{gateway}/dl/{unique}/game_save.bin"):
        download = requests.get(url)
        assert download.status_code == 200
        assert sha256(download.content) == sha256(blob)
        assert download.headers["Content-Disposition"] == (
            "attachment; filename=\"game_save.bin\"; filename*=UTF-8''game_save.bin")


def test_uploader_download_carries_one_content_disposition(gateway, unique):
    requests.post(f"{gateway}/{unique}", files={"file": ("one.txt", b"one")})
    status, headers, _ = raw_request(gateway, "GET", f"/{unique}/one.txt")
    assert status == 200
    assert [name.lower() for name, _ in headers].count("content-disposition") == 1


def test_uploader_same_name_again_is_409_and_keeps_the_first(gateway, unique):
    requests.post(f"{gateway}/{unique}", files={"file": ("same.txt", b"first")})
    response = requests.post(f"{gateway}/{unique}", files={"file": ("same.txt", b"second")})
    assert response.status_code == 409
    assert "already exists" in response.text
    assert requests.get(f"{gateway}/{unique}/same.txt").content == b"first"


def test_uploader_racing_uploads_of_one_name_store_exactly_one(gateway, unique):
    statuses = []

    def upload(number):
        answer = requests.post(f"{gateway}/{unique}", files={"file": ("race.txt", f"{number}".encode())})
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 7
    assert requests.get(f"{gateway}/{unique}/race.txt").content in {f"{n}".encode() for n in range(8)}


def test_uploader_form_and_listings(gateway, unique):
    form = requests.get(f"{gateway}/{unique}")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    requests.post(f"{gateway}/{unique}", files={"file": ("b.txt", b"bb")})
    requests.post(f"{gateway}/{unique}", files={"file": ("a.txt", b"a")})
    page = requests.get(f"{gateway}/list/{unique}")
    assert page.status_code == 200 and unique in page.text and "a.txt" in page.text
    for listing in (requests.get(f"{gateway}/list/{unique}?format=json"),
                    requests.get(f"{gateway}/list/{unique}", headers={"Accept": "application/json"})):
        assert [(e["name"], e["size"], e["sha256"]) for e in listing.json()] == [
            ("a.txt", 1, sha256(b"a")), ("b.txt", 2, sha256(b"bb"))]


def test_listing_of_an_unknown_partition_is_200(gateway, unique):
    response = requests.get(f"{gateway}/list/{unique}")
    assert response.status_code == 200 and unique in response.text
    assert requests.get(f"{gateway}/list/{unique}?format=json").json() == []


@pytest.mark.parametrize("partition", ["list", "dl", "fs", "_hipflask", "_fs_files", ".hidden"])
def test_reserved_partitions_are_refused(gateway, partition):
    response = requests.post(f"{gateway}/{partition}", files={"file": ("x.txt", b"x")}, allow_redirects=False)
    assert response.status_code in (400, 404)
    assert response.headers["Content-Type"].startswith("application/json")


# ---- safety ---------------------------------------------------------------------------------------

TRAVERSALS = [
    "/fs/../etc/passwd",
    "/fs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/fs/%2E%2E/etc/passwd",
    "/fs/a%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/fs/..%2f..%2f..%2fetc/passwd",
    "/fs//etc/passwd",
    "/fs/%2fetc/passwd",
    "/fs/a%00.txt",
    "/fs/..\\..\\etc\\passwd",
    "/fs/a%5c..%5c..%5cetc%5cpasswd",
    "/p/..",
    "/p/%2e%2e",
    "/dl/p/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/list/%2e%2e",
    "/list/..%2f..%2f..",
    "/_fs_files/files/x",
    "/_fs_files/../../../etc/passwd",
]


def assert_refused(status: int, headers: list, body: bytes) -> None:
    """Refused by the service (its JSON error) or by nginx before the service saw it."""
    assert status in (400, 404), status
    assert b"root:" not in body
    lowered = {name.lower(): value for name, value in headers}
    if "x-hostname" in lowered:
        assert lowered["content-type"].startswith("application/json")


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_downloads_are_refused(gateway, path):
    assert_refused(*raw_request(gateway, "GET", path))


@pytest.mark.parametrize("path", [p for p in TRAVERSALS if p.startswith("/fs/")])
def test_traversal_uploads_and_deletes_are_refused(gateway, path):
    assert_refused(*raw_request(gateway, "PUT", path, body=b"evil"))
    assert_refused(*raw_request(gateway, "DELETE", path))


def plant_symlink(stack, target: str, link: str) -> None:
    """A symlink inside the fs volume, as someone with access to the volume could plant it."""
    if stack.kind == "native":
        os.symlink(target, stack.data_dir("fs") / link)
    else:
        stack.run("exec", "-T", "fs", "ln", "-s", target, f"/data/{link}")


@pytest.mark.single_host("fs keeps its files in S3 there: no volume to plant a symlink in")
def test_symlinks_planted_in_the_volume_are_refused(stack, gateway, unique):
    requests.put(f"{gateway}/fs/{unique}/real.txt", data=b"real")
    plant_symlink(stack, "/etc", f"files/{unique}/etc")
    plant_symlink(stack, "/etc/passwd", f"files/{unique}/passwd")
    plant_symlink(stack, "/etc", f"uploads/{unique}")
    for method, path in [("GET", f"/fs/{unique}/etc/passwd"), ("GET", f"/fs/{unique}/passwd"),
                         ("HEAD", f"/fs/{unique}/passwd"), ("PUT", f"/fs/{unique}/passwd"),
                         ("DELETE", f"/fs/{unique}/passwd"), ("GET", f"/{unique}/passwd"),
                         ("GET", f"/list/{unique}")]:
        status, headers, body = raw_request(gateway, method, path, body=b"evil" if method == "PUT" else None)
        assert status == 400, (method, path, status)
        assert b"root:" not in body
    assert requests.get(f"{gateway}/fs/{unique}/real.txt").content == b"real"


def test_an_upload_over_the_limit_is_413_and_keeps_nothing(gateway, unique):
    status, headers, body = raw_request(gateway, "PUT", f"/fs/{unique}/big.bin", body=b"",
                                        headers={"Content-Length": str(LIMIT + 1)})
    assert status == 413
    assert requests.get(f"{gateway}/fs/{unique}/big.bin").status_code == 404


@pytest.mark.slow
def test_an_upload_just_over_the_limit_is_413_and_keeps_nothing(gateway, unique):
    try:
        response = requests.post(f"{gateway}/{unique}", files={"file": ("big.bin", b"\0" * (LIMIT + 1))})
        assert response.status_code == 413
    except requests.ConnectionError:
        pass  # the gateway may close the connection while the client is still sending
    assert requests.get(f"{gateway}/list/{unique}?format=json").json() == []


# ---- durability ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_acknowledged_uploads_survive_sigkill_of_the_service(stack, gateway, blob, unique):
    assert requests.put(f"{gateway}/fs/{unique}/durable.bin", data=blob).status_code == 200
    assert requests.post(f"{gateway}/{unique}", files={"file": ("durable.bin", blob)}).status_code == 200
    stack.kill("fs")
    stack.start("fs")
    assert sha256(requests.get(f"{gateway}/fs/{unique}/durable.bin").content) == sha256(blob)
    assert sha256(requests.get(f"{gateway}/{unique}/durable.bin").content) == sha256(blob)
    assert [e["sha256"] for e in requests.get(f"{gateway}/list/{unique}?format=json").json()] == [sha256(blob)]
