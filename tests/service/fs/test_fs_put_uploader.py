"""The uploader by PUT (`curl -T`) and the partition listing a mirror can follow (`/<partition>/`)."""
import hashlib
import io
import re

import pytest

from fs.wsgi import build

CURL = {"Accept": "*/*"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_put_answers_curl_with_the_download_url_on_one_line(direct):
    response = direct.put("/p/notes.txt", data=b"hello", headers=CURL)
    assert response.status_code == 201
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "http://localhost/p/notes.txt\n"
    assert response.headers["Location"] == "http://localhost/p/notes.txt"
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(b"hello").hexdigest()
    assert direct.get("/p/notes.txt").get_data() == b"hello"


def test_put_answers_a_browser_with_the_listing(client):
    response = client.put("/p/page.txt", data=b"x", headers=BROWSER)
    assert response.status_code == 201
    assert response.mimetype == "text/html"
    assert "Stored <strong>page.txt</strong>" in response.get_data(as_text=True)


def test_put_of_an_existing_name_is_409_and_keeps_the_first_file(direct):
    direct.put("/p/a.bin", data=b"first", headers=CURL)
    response = direct.put("/p/a.bin", data=b"second", headers=CURL)
    assert response.status_code == 409
    assert response.get_json()["code"] == "exists"
    assert direct.get("/p/a.bin").get_data() == b"first"


def test_put_makes_the_name_safe(direct):
    response = direct.put("/p/my%20file.txt", data=b"x", headers=CURL)
    assert response.get_data(as_text=True).strip() == "http://localhost/p/my_file.txt"


def test_put_larger_than_the_limit_is_413_and_keeps_nothing(build_app):
    client = build_app(build, FS_MAX_UPLOAD_SIZE="1k").test_client()
    response = client.put("/p/big.bin", data=b"x" * 4096, headers=CURL)
    assert response.status_code == 413
    assert client.get("/p/?format=json").get_json() == []


@pytest.mark.parametrize("partition", ["list", "dl", "store"])
def test_put_to_a_reserved_partition_is_400(client, partition):
    assert client.put(f"/{partition}/x.txt", data=b"x", headers=CURL).status_code in (400, 405)


def test_put_emits_an_upload_event(client, events):
    client.put("/p/e.txt", data=b"x", headers=CURL)
    assert {"action": "upload", "path": "/p/e.txt"} in events.messages("fs")


def test_post_keeps_the_original_contract(client):
    response = client.post("/p", data={"file": (io.BytesIO(b"x"), "form.txt")})
    assert response.status_code == 200 and response.mimetype == "text/html"


def test_the_slash_listing_links_files_by_relative_names(client):
    client.put("/p/one.txt", data=b"1", headers=CURL)
    client.put("/p/two.txt", data=b"22", headers=CURL)
    page = client.get("/p/").get_data(as_text=True)
    assert re.findall(r'class="file" href="([^"]+)"', page) == ["one.txt", "two.txt"]


def test_the_list_form_keeps_its_dl_links(client):
    client.put("/p/one.txt", data=b"1", headers=CURL)
    page = client.get("/list/p").get_data(as_text=True)
    assert re.findall(r'class="file" href="([^"]+)"', page) == ["/dl/p/one.txt"]


def test_the_slash_listing_as_json(client):
    client.put("/p/one.txt", data=b"1", headers=CURL)
    assert [entry["name"] for entry in client.get("/p/?format=json").get_json()] == ["one.txt"]


def test_the_partition_without_slash_is_still_the_upload_form(client):
    assert "<form" in client.get("/p").get_data(as_text=True)
