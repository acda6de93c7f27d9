"""The uploader: POST /<partition>, the form, the listings, downloads."""
import hashlib
import io
import os

import pytest

from support import assert_error


def upload(client, partition, data, filename, **kwargs):
    return client.post(f"/{partition}", data={"file": (io.BytesIO(data), filename)}, **kwargs)


def test_upload_answers_an_html_listing_naming_the_file(client):
    response = upload(client, "minecraft", b"hello", "test.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "test.txt" in page and "minecraft" in page
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(b"hello").hexdigest()


def test_the_same_name_again_is_409_and_keeps_the_first_file(direct):
    upload(direct, "minecraft", b"first", "test.txt")
    response = upload(direct, "minecraft", b"second", "test.txt")
    assert response.status_code == 409
    assert response.mimetype == "text/html"
    assert "already exists" in response.get_data(as_text=True)
    assert direct.get("/minecraft/test.txt").get_data() == b"first"


def test_409_is_the_json_error_for_json_clients(client):
    upload(client, "p", b"first", "x.txt")
    response = upload(client, "p", b"second", "x.txt", headers={"Accept": "application/json"})
    assert_error(response, 409, "exists")


def test_uploaded_names_are_made_safe(direct, data_dir):
    response = upload(direct, "p", b"data", "../../etc/my passwd")
    assert response.status_code == 200
    assert os.listdir(data_dir / "uploads" / "p") == ["etc_my_passwd"]
    assert direct.get("/p/etc_my_passwd").get_data() == b"data"


def test_a_name_with_nothing_safe_in_it_is_400(client, leftovers):
    response = upload(client, "p", b"data", "日本語")
    assert_error(response, 400, "bad_filename")
    assert leftovers() == []


@pytest.mark.parametrize("partition", ["list", "dl", "fs", "store", "kv", "render", "template", "raw_template",
                                       "diagnostic", "echo", "hello", "message", "static", "_hipflask",
                                       "_fs_files", "_gateway", ".hidden", "_x"])
def test_reserved_partitions_are_refused_with_400_json(client, partition, leftovers):
    response = upload(client, partition, b"data", "x.txt")
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert leftovers() == []


def test_get_partition_shows_an_upload_form(client):
    response = client.get("/minecraft")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert 'action="/minecraft"' in page
    assert 'type="file"' in page and 'name="file"' in page


def test_download_is_an_attachment_handed_to_the_gateway(client):
    upload(client, "minecraft", b"hello", "test.txt")
    for url in ("/minecraft/test.txt", "/dl/minecraft/test.txt"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["X-Accel-Redirect"] == "/_fs_files/uploads/minecraft/test.txt"
        assert response.headers["Content-Disposition"] == (
            "attachment; filename=\"test.txt\"; filename*=UTF-8''test.txt")


def test_direct_download_sends_the_bytes_as_an_attachment(direct):
    upload(direct, "minecraft", b"hello", "test.txt")
    response = direct.get("/dl/minecraft/test.txt")
    assert response.get_data() == b"hello"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_download_of_a_missing_file_is_404(client):
    assert client.get("/minecraft/nothing.txt").status_code == 404
    assert client.get("/dl/minecraft/nothing.txt").status_code == 404


def test_listing_is_html_naming_the_partition_and_its_files(client):
    upload(client, "minecraft", b"hello", "test.txt")
    response = client.get("/list/minecraft")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "minecraft" in page
    assert 'href="/dl/minecraft/test.txt"' in page


def test_listing_of_an_unknown_partition_is_200_naming_it(client):
    response = client.get("/list/nobody-here")
    assert response.status_code == 200
    assert "nobody-here" in response.get_data(as_text=True)


@pytest.mark.parametrize("how", [{"query_string": {"format": "json"}}, {"headers": {"Accept": "application/json"}}])
def test_listing_as_json(client, how):
    upload(client, "p", b"bb", "b.txt")
    upload(client, "p", b"a", "a.txt")
    response = client.get("/list/p", **how)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert [(e["name"], e["size"], e["sha256"]) for e in body] == [
        ("a.txt", 1, hashlib.sha256(b"a").hexdigest()), ("b.txt", 2, hashlib.sha256(b"bb").hexdigest())]
    assert all(e["modified"].endswith("Z") for e in body)


def test_json_listing_of_an_unknown_partition_is_an_empty_list(client):
    assert client.get("/list/nobody?format=json").get_json() == []


def test_json_listing_supports_jsonp(client):
    response = client.get("/list/nobody?format=json&callback=cb")
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == "cb([]);"


def test_listing_escapes_hostile_names(client, data_dir):
    folder = data_dir / "uploads" / "p"
    folder.mkdir(parents=True)
    (folder / '<img src=x onerror="alert(1)">&.txt').write_bytes(b"data")
    page = client.get("/list/p").get_data(as_text=True)
    assert "<img" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;.txt" in page


def test_upload_of_a_hostile_name_shows_only_the_safe_name(client):
    page = upload(client, "p", b"data", '<img src=x onerror=alert(1)>.txt').get_data(as_text=True)
    assert "<img" not in page
    assert "img_srcx_onerroralert1.txt" in page


def test_upload_emits_an_event(client, events):
    upload(client, "minecraft", b"hello", "test.txt")
    event = events()[-1]
    assert event["source"] == "fs"
    message = event["message"]
    assert (message["action"], message["path"], message["size"]) == ("upload", "/minecraft/test.txt", 5)
    assert message["etag"].startswith('"') and message["etag"].endswith('-5"')


def test_a_refused_duplicate_emits_no_event(client, events):
    upload(client, "minecraft", b"hello", "test.txt")
    upload(client, "minecraft", b"again", "test.txt")
    assert len(events()) == 1


def test_uploads_leave_no_temporary_files(client, leftovers):
    upload(client, "p", b"data", "x.txt")
    upload(client, "p", b"data", "x.txt")
    assert leftovers() == []
