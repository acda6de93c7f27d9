"""fs in front of browsers: downloads are sandboxed user content; in token mode each namespace has its own files."""
import io

import pytest

from support import AUTH_KEYS, bearer

from fs.wsgi import build


@pytest.fixture
def token_client(build_app):
    return build_app(build, FS_MAX_UPLOAD_SIZE="8m", AUTH_MODE="token", AUTH_KEYS=AUTH_KEYS,
                     AUTH_PUBLIC="DEFAULT:write").test_client()


@pytest.mark.parametrize("name", ["page.html", "image.svg", "feed.xml", "app.js"])
def test_an_active_file_downloads_as_an_attachment_in_a_sandbox(direct, name):
    direct.put(f"/fs/x/{name}", data=b"<script>alert(1)</script>")
    answer = direct.get(f"/fs/x/{name}")
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_text_file_is_shown_inline_in_a_sandbox(direct):
    direct.put("/fs/x/notes.txt", data=b"hello")
    answer = direct.get("/fs/x/notes.txt")
    assert not answer.headers.get("Content-Disposition", "").startswith("attachment")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_upload_form_has_a_strict_csp_and_cannot_be_framed(client):
    answer = client.get("/share")
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_in_token_mode_a_namespace_sees_only_its_own_files(token_client):
    assert token_client.put("/fs/doc.txt", data=b"bob's", headers=bearer("bob")).status_code == 200
    assert token_client.get("/fs/doc.txt", headers={"Uid": "bob", **bearer("alice")}).status_code == 404
    assert token_client.get("/fs/doc.txt", headers=bearer("bob")).status_code == 200


def test_in_token_mode_files_live_under_the_namespace_folder(token_client, data_dir):
    token_client.put("/fs/a/doc.txt", data=b"x", headers=bearer("bob"))
    assert (data_dir / "namespaces" / "bob" / "files" / "a" / "doc.txt").read_bytes() == b"x"
    answer = token_client.get("/fs/a/doc.txt", headers=bearer("bob"))
    assert answer.headers["X-Accel-Redirect"] == "/_fs_files/namespaces/bob/files/a/doc.txt"


def test_in_token_mode_partitions_are_per_namespace(token_client):
    token_client.post("/share", data={"file": (io.BytesIO(b"x"), "a.txt")},
                      headers={"Accept": "application/json", **bearer("bob")})
    alice = token_client.get("/list/share?format=json", headers=bearer("alice")).get_json()
    bob = token_client.get("/list/share?format=json", headers=bearer("bob")).get_json()
    assert alice == [] and [entry["name"] for entry in bob] == ["a.txt"]


def test_in_token_mode_a_read_token_cannot_upload(token_client):
    assert token_client.put("/fs/x.txt", data=b"x", headers=bearer("bob", "read")).status_code == 403


def test_in_token_mode_a_public_default_namespace_takes_the_form_without_a_token(token_client):
    answer = token_client.post("/share", data={"file": (io.BytesIO(b"x"), "b.txt")})
    assert answer.status_code == 200
