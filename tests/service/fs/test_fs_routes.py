"""/fs/<path>: upload (multipart and raw PUT), download, delete."""
import hashlib
import io
import os

import pytest

from support import assert_error

SIZE = 5 * 1024 * 1024 + 123


@pytest.fixture(scope="module")
def blob():
    return os.urandom(SIZE)


def upload(client, path, data, filename="upload.bin"):
    return client.post(path, data={"file": (io.BytesIO(data), filename)})


def test_upload_answers_thanks_with_the_sha256(client, blob):
    response = upload(client, "/fs/round/trip.bin", blob)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "Thanks"
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(blob).hexdigest()


def test_multipart_round_trip_is_byte_identical(direct, blob):
    upload(direct, "/fs/round/trip.bin", blob)
    response = direct.get("/fs/round/trip.bin")
    assert response.status_code == 200
    assert hashlib.sha256(response.get_data()).hexdigest() == hashlib.sha256(blob).hexdigest()


def test_put_raw_body_round_trip_is_byte_identical(direct, blob):
    response = direct.put("/fs/raw/put.bin", data=blob)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "Thanks"
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(blob).hexdigest()
    assert direct.get("/fs/raw/put.bin").get_data() == blob


def test_put_of_an_empty_body_stores_an_empty_file(direct):
    assert direct.put("/fs/empty.txt", data=b"").status_code == 200
    assert direct.get("/fs/empty.txt").get_data() == b""


def test_nested_folders_are_made_as_needed(direct):
    upload(direct, "/fs/one/two/three/four.txt", b"deep")
    assert direct.get("/fs/one/two/three/four.txt").get_data() == b"deep"


def test_unicode_and_spaces_in_paths_round_trip(direct):
    upload(direct, "/fs/dossier%20%C3%A9t%C3%A9/a%20b.txt", b"unicode")
    assert direct.get("/fs/dossier été/a b.txt").get_data() == b"unicode"


def test_upload_replaces_an_existing_file(direct):
    upload(direct, "/fs/x.txt", b"old")
    upload(direct, "/fs/x.txt", b"new")
    assert direct.get("/fs/x.txt").get_data() == b"new"


def test_download_is_handed_to_the_gateway_by_default(client):
    upload(client, "/fs/a/b.txt", b"data")
    response = client.get("/fs/a/b.txt")
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == "/_fs_files/files/a/b.txt"
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers


def test_accel_redirect_quotes_the_path(client):
    upload(client, "/fs/a%20b/%C3%A9%3F%23.txt", b"data")
    response = client.get("/fs/a b/é?#.txt".replace("?", "%3F").replace("#", "%23"))
    assert response.headers["X-Accel-Redirect"] == "/_fs_files/files/a%20b/%C3%A9%3F%23.txt"


def test_head_is_handed_to_the_gateway_too(client):
    upload(client, "/fs/a.txt", b"data")
    assert client.head("/fs/a.txt").headers["X-Accel-Redirect"] == "/_fs_files/files/a.txt"


def test_direct_download_has_a_type_from_the_name_and_honours_range(direct):
    upload(direct, "/fs/page.html", b"<p>0123456789</p>")
    response = direct.get("/fs/page.html", headers={"Range": "bytes=3-6"})
    assert response.status_code == 206
    assert response.get_data() == b"0123"
    assert response.mimetype == "text/html"


def test_direct_download_answers_304_to_its_etag(direct):
    upload(direct, "/fs/a.txt", b"data")
    etag = direct.get("/fs/a.txt").headers["ETag"]
    assert direct.get("/fs/a.txt", headers={"If-None-Match": etag}).status_code == 304


def test_download_of_a_missing_file_is_404(client):
    response = client.get("/fs/missing.txt")
    assert_error(response, 404, "not_found")


def test_download_of_a_folder_is_404(client):
    upload(client, "/fs/folder/a.txt", b"data")
    assert client.get("/fs/folder").status_code == 404


def test_delete_removes_the_file(direct):
    upload(direct, "/fs/gone.txt", b"data")
    response = direct.delete("/fs/gone.txt")
    assert response.status_code == 200
    assert direct.get("/fs/gone.txt").status_code == 404


def test_delete_of_a_missing_file_is_404(client):
    assert client.delete("/fs/missing.txt").status_code == 404


def test_upload_without_the_file_field_is_400(client):
    response = client.post("/fs/a.txt", data={"other": (io.BytesIO(b"x"), "x.txt")})
    assert_error(response, 400, "missing_file")


def test_upload_onto_a_folder_is_409(client):
    upload(client, "/fs/folder/a.txt", b"data")
    response = upload(client, "/fs/folder", b"data")
    assert_error(response, 409, "conflict")


def test_upload_and_delete_emit_events_after_commit(client, events):
    upload(client, "/fs/ev/a.txt", b"data")
    client.delete("/fs/ev/a.txt")
    recorded = events()
    assert [(e["source"], e["message"]["action"], e["message"]["path"]) for e in recorded] == [
        ("fs", "upload", "/fs/ev/a.txt"),
        ("fs", "delete", "/fs/ev/a.txt"),
    ]
    assert recorded[0]["message"]["size"] == 4
    assert recorded[0]["message"]["sha256"] == hashlib.sha256(b"data").hexdigest()


def test_uploads_leave_no_temporary_files(client, leftovers, blob):
    upload(client, "/fs/a.bin", blob)
    client.put("/fs/b.bin", data=blob)
    assert leftovers() == []


def test_readiness_reports_the_volume(client):
    response = client.get("/_hipflask/ready")
    assert response.status_code == 200
    assert "volume" not in response.get_json()["failed"]


def test_download_carries_the_stored_sha256(client):
    upload(client, "/fs/h.txt", b"hash me")
    assert client.get("/fs/h.txt").headers["X-Content-SHA256"] == hashlib.sha256(b"hash me").hexdigest()


def test_multipart_file_parts_stream_into_the_volume_not_memory_or_system_tmp(app, volume):
    with app.test_request_context("/fs/x.bin", method="POST",
                                  data={"file": (io.BytesIO(b"x" * 2_000_000), "x.bin")}):
        from flask import request
        body = request.environ["wsgi.input"]  # the test's spooled body: closed below, as a server would
        stream = request.files["file"].stream
        assert stream.path.parent == volume.tmp
        assert stream.size == 2_000_000 and stream.path.exists()
    body.close()
    assert os.listdir(volume.tmp) == []
