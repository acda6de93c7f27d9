import json
import os

import pytest

from hipflask.config import ConfigError
from support import assert_error

from kv.wsgi import build


def test_post_answers_ok_with_the_new_etag(client):
    response = client.post("/kv/app/settings/theme", data=b"dark", content_type="text/plain")
    assert response.status_code == 200
    assert response.get_json() == {"message": "ok"}
    assert response.headers["ETag"] == client.get("/kv/app/settings/theme").headers["ETag"]


@pytest.mark.parametrize("content_type, body", [
    ("text/plain; charset=utf-8", "déjà vu".encode()),
    ("superpants", b"made-up type"),
    ("application/xml", b"<a><b>1</b></a>"),
    ("text/html", b"<h1>hi</h1>"),
    ("application/json", b'{"a": [1, 2.5, "x"], "b": null}'),
    ("application/vnd.api+json", b'{"data": []}'),
    ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00"),
])
def test_value_comes_back_byte_for_byte_with_its_content_type(client, content_type, body):
    client.post("/kv/thing", data=body, content_type=content_type)
    response = client.get("/kv/thing")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.get_data() == body


def test_javascript_value_holding_json_comes_back_untouched(client):
    body = b'{"looks": "like json",  "spacing": [1,2] }\n'
    client.post("/kv/script", data=body, content_type="application/javascript")
    response = client.get("/kv/script")
    assert response.headers["Content-Type"] == "application/javascript"
    assert response.get_data() == body


def test_random_binary_value_round_trips(client):
    body = os.urandom(64 * 1024) + b"\x00\xff\x00"
    client.put("/kv/blob", data=body, content_type="application/octet-stream")
    assert client.get("/kv/blob").get_data() == body


def test_raw_body_without_content_type_is_stored_as_octet_stream(client):
    client.post("/kv/raw", data=b"\x01\x02", headers={"Content-Type": ""})
    response = client.get("/kv/raw")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.get_data() == b"\x01\x02"


def test_url_encoded_form_post_is_stored_as_json_of_converted_fields(client):
    client.post("/kv/form", data={"number": "1", "name": "pants", "ratio": "0.5"})
    response = client.get("/kv/form")
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.get_data()) == {"number": 1, "name": "pants", "ratio": 0.5}


def test_multipart_form_post_is_stored_as_json_of_converted_fields(client):
    client.post("/kv/multi", data={"n": "7", "word": "hi"}, content_type="multipart/form-data")
    response = client.get("/kv/multi")
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.get_data()) == {"n": 7, "word": "hi"}


def test_empty_post_stores_an_empty_json_object(client):
    client.post("/kv/empty")
    response = client.get("/kv/empty")
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_data() == b"{}"


def test_empty_post_stores_its_query_fields_without_kv_parameters(client):
    client.post("/kv/query?a=1&b=two&ttl=60&callback=cb")
    assert json.loads(client.get("/kv/query").get_data()) == {"a": 1, "b": "two"}


def test_form_post_callback_field_answers_jsonp_and_is_not_stored(client):
    response = client.post("/kv/cbform", data={"callback": "cb", "a": "1"})
    assert response.get_data(as_text=True) == 'cb({"message":"ok"});'
    assert json.loads(client.get("/kv/cbform").get_data()) == {"a": 1}


def test_put_stores_a_form_body_raw(client):
    client.put("/kv/raw-form", data=b"a=1&b=2", content_type="application/x-www-form-urlencoded")
    response = client.get("/kv/raw-form")
    assert response.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert response.get_data() == b"a=1&b=2"


@pytest.mark.parametrize("method", ["post", "put"])
@pytest.mark.parametrize("content_type", ["application/json", "application/ld+json; charset=utf-8"])
def test_invalid_json_is_400_and_the_old_value_stays(client, method, content_type):
    client.post("/kv/config", data=b'{"ok": true}', content_type="application/json")
    response = getattr(client, method)("/kv/config", data=b'{"broken": ', content_type=content_type)
    assert_error(response, 400, "bad_json")
    assert client.get("/kv/config").get_data() == b'{"ok": true}'


def test_put_of_an_empty_body_declared_json_is_400(client):
    response = client.put("/kv/config", data=b"", content_type="application/json")
    assert response.status_code == 400
    assert client.get("/kv/config").status_code == 404


def test_missing_key_is_a_json_404_with_a_message(client):
    response = client.get("/kv/nothing/here")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json() == {"message": "key not found"}


def test_missing_key_under_jsonp_is_200_with_the_message(client):
    response = client.get("/kv/nothing?callback=cb")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == 'cb({"message":"key not found"});'


def test_jsonp_of_a_json_value_wraps_its_raw_text(client):
    client.post("/kv/doc", data=b'{"a": 1, "b": [true]}', content_type="application/json")
    response = client.get("/kv/doc?callback=cb")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == 'cb({"a": 1, "b": [true]});'


def test_jsonp_of_a_text_value_wraps_it_as_a_json_string(client):
    client.post("/kv/theme", data=b'dark "mode"', content_type="text/plain")
    assert client.get("/kv/theme?callback=app.cb").get_data(as_text=True) == 'app.cb("dark \\"mode\\"");'


def test_jsonp_of_a_javascript_value_holding_json_wraps_it_as_a_string(client):
    client.post("/kv/script", data=b'{"a":1}', content_type="application/javascript")
    assert client.get("/kv/script?callback=cb").get_data(as_text=True) == 'cb("{\\"a\\":1}");'


def test_jsonp_answer_to_a_write(client):
    response = client.post("/kv/x?callback=cb", data=b"1", content_type="text/plain")
    assert response.get_data(as_text=True) == 'cb({"message":"ok"});'


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_bad_callback_is_400_and_never_echoed(client, method):
    client.post("/kv/x", data=b"1", content_type="text/plain")
    response = getattr(client, method)("/kv/x?callback=alert(1)//")
    assert_error(response, 400, "bad_callback")
    assert b"alert" not in response.get_data()
    assert client.get("/kv/x").get_data() == b"1"


def test_head_answers_the_headers_without_the_body(client):
    client.post("/kv/h", data=b"hello", content_type="text/plain")
    response = client.head("/kv/h")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "5"
    assert response.headers["ETag"]
    assert response.get_data() == b""


def test_read_carries_etag_and_last_modified(client):
    client.post("/kv/h", data=b"hello", content_type="text/plain")
    response = client.get("/kv/h")
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Last-Modified"].endswith(" GMT")
    assert "Expires" not in response.headers


def test_if_none_match_with_the_current_etag_gives_304(client):
    client.post("/kv/h", data=b"hello", content_type="text/plain")
    etag = client.get("/kv/h").headers["ETag"]
    response = client.get("/kv/h", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["ETag"] == etag
    assert response.get_data() == b""


def test_if_none_match_with_an_old_etag_gives_the_new_value(client):
    client.post("/kv/h", data=b"old", content_type="text/plain")
    etag = client.get("/kv/h").headers["ETag"]
    client.post("/kv/h", data=b"new", content_type="text/plain")
    response = client.get("/kv/h", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.get_data() == b"new"


def test_if_modified_since_last_modified_gives_304(client):
    client.post("/kv/h", data=b"hello", content_type="text/plain")
    last_modified = client.get("/kv/h").headers["Last-Modified"]
    assert client.get("/kv/h", headers={"If-Modified-Since": last_modified}).status_code == 304


def test_delete_removes_the_value(client):
    client.post("/kv/gone", data=b"x", content_type="text/plain")
    response = client.delete("/kv/gone")
    assert response.status_code == 200
    assert response.get_json() == {"message": "ok"}
    assert client.get("/kv/gone").status_code == 404


def test_delete_of_a_missing_key_is_a_json_404(client):
    response = client.delete("/kv/never/was")
    assert response.status_code == 404
    assert response.get_json() == {"message": "key not found"}


def test_delete_in_a_missing_namespace_is_a_json_404(client):
    assert client.delete("/kv/x", headers={"Uid": "nobody"}).status_code == 404


def test_namespaces_from_the_uid_header_are_separate(client):
    client.post("/kv/k", data=b"alice", content_type="text/plain", headers={"Uid": "alice"})
    client.post("/kv/k", data=b"bob", content_type="text/plain", headers={"Uid": "bob"})
    client.post("/kv/k", data=b"nobody", content_type="text/plain")
    assert client.get("/kv/k", headers={"Uid": "alice"}).get_data() == b"alice"
    assert client.get("/kv/k", headers={"Uid": "bob"}).get_data() == b"bob"
    assert client.get("/kv/k").get_data() == b"nobody"
    assert client.get("/kv/k", headers={"Uid": "carol"}).status_code == 404


@pytest.mark.sqlite_only
def test_reads_of_a_missing_namespace_create_no_file(client, data_dir):
    client.get("/kv/k", headers={"Uid": "ghost"})
    client.get("/kv/?keys", headers={"Uid": "ghost"})
    client.delete("/kv/k", headers={"Uid": "ghost"})
    assert not list(data_dir.glob("ghost*"))


@pytest.mark.sqlite_only
def test_first_write_creates_the_namespace_file(client, data_dir):
    client.post("/kv/k", data=b"1", content_type="text/plain", headers={"Uid": "writer"})
    assert (data_dir / "writer.sqlite3").is_file()


def test_unicode_key_round_trips(client):
    client.post("/kv/caf%C3%A9/%E2%9C%93", data=b"ok", content_type="text/plain")
    assert client.get("/kv/café/✓").get_data() == b"ok"
    assert client.get("/kv/caf?keys").get_json()[0]["key"] == "café/✓"


@pytest.mark.parametrize("path", [
    "/kv/", "/kv/a/../b", "/kv/../etc/passwd", "/kv/a/./b", "/kv/.", "/kv/a/..", "/kv/a%00b",
    "/kv/" + "k" * 1025, "/kv/" + "é" * 513,
])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_bad_key_is_a_400_in_the_error_shape(client, data_dir, path, method):
    response = getattr(client, method)(path, data=b"x", content_type="text/plain")
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "bad_key"
    assert set(body) == {"status", "code", "message", "eid"}
    assert not (data_dir / "DEFAULT.sqlite3").exists()


def test_key_of_1024_bytes_is_accepted(client):
    path = "/kv/" + "k" * 1024
    assert client.post(path, data=b"x", content_type="text/plain").status_code == 200
    assert client.get(path).get_data() == b"x"


def test_dots_inside_a_segment_are_fine(client):
    client.post("/kv/v1.2/..hidden/a..b", data=b"x", content_type="text/plain")
    assert client.get("/kv/v1.2/..hidden/a..b").get_data() == b"x"


def test_value_over_kv_max_value_size_is_413_and_nothing_stored(build_app):
    client = build_app(build, KV_MAX_VALUE_SIZE="1k").test_client()
    client.post("/kv/big", data=b"small", content_type="text/plain")
    response = client.post("/kv/big", data=b"x" * 1025, content_type="text/plain")
    assert_error(response, 413, "too_large")
    assert client.get("/kv/big").get_data() == b"small"


def test_value_of_exactly_kv_max_value_size_is_stored(build_app):
    client = build_app(build, KV_MAX_VALUE_SIZE="1k").test_client()
    assert client.put("/kv/big", data=b"x" * 1024, content_type="text/plain").status_code == 200


def test_form_post_converting_to_an_oversize_value_is_413(build_app):
    client = build_app(build, KV_MAX_VALUE_SIZE="64").test_client()
    response = client.post("/kv/form", data={"a": "x" * 40, "b": "y" * 20})
    assert response.status_code == 413
    assert client.get("/kv/form").status_code == 404


def test_body_over_max_body_size_is_413_and_nothing_stored(build_app):
    client = build_app(build, MAX_BODY_SIZE="2k").test_client()
    response = client.put("/kv/big", data=b"x" * 4096, content_type="text/plain")
    assert response.status_code == 413
    assert client.get("/kv/big").status_code == 404


def test_kv_max_value_size_above_max_body_size_stops_the_start(build_app):
    with pytest.raises(ConfigError, match="KV_MAX_VALUE_SIZE"):
        build_app(build, MAX_BODY_SIZE="1m", KV_MAX_VALUE_SIZE="2m")


def test_unknown_kv_sync_stops_the_start(build_app):
    with pytest.raises(ConfigError, match="KV_SYNC"):
        build_app(build, KV_SYNC="sometimes")


def test_unknown_sqlite_vfs_stops_the_start(build_app):
    with pytest.raises(ConfigError, match="SQLITE_VFS"):
        build_app(build, SQLITE_VFS="no-such-vfs")


def test_readiness_checks_the_storage(client):
    response = client.get("/_hipflask/ready")
    assert response.status_code == 200
    assert response.get_json()["failed"] == {}


def test_write_emits_a_set_event(client, events):
    response = client.post("/kv/app/x", data=b"1", content_type="text/plain", headers={"Uid": "alice"})
    event = events()[-1]
    assert event["source"] == "kv"
    assert event["message"] == {"action": "set", "key": "app/x", "etag": response.headers["ETag"].strip('"'),
                                "content_type": "text/plain", "size": 1}
    assert event["user_token"] == "alice"


def test_a_json_write_event_carries_the_value(client, events):
    client.put("/kv/app/cfg", data=b'{"on": true}', content_type="application/json")
    assert events()[-1]["message"]["value"] == {"on": True}


def test_delete_emits_a_delete_event(client, events):
    client.post("/kv/app/x", data=b"1", content_type="text/plain")
    client.delete("/kv/app/x")
    assert events()[-1]["message"] == {"action": "delete", "key": "app/x"}


def test_refused_writes_emit_no_event(client, events):
    client.post("/kv/x", data=b"{", content_type="application/json")
    client.delete("/kv/missing")
    client.post("/kv/x", data=b"1", content_type="text/plain", headers={"If-Match": '"nope"'})
    assert events() == []
