"""The kv service through the gateway only: contract, concurrency, compare-and-set, durability."""
import http.client
import os
import threading
import uuid
from urllib.parse import quote, urlsplit

import pytest
import requests

from support import assert_error, wait_until


@pytest.fixture
def uid(gateway):
    """A namespace of this test's own; every key left in it is deleted afterwards."""
    name = f"kv-system-{uuid.uuid4().hex[:12]}"
    yield name
    for entry in requests.get(f"{gateway}/kv/?keys", headers={"Uid": name}, timeout=10).json():
        requests.delete(f"{gateway}/kv/{quote(entry['key'])}", headers={"Uid": name}, timeout=10)


def _raw_request(gateway, method, path, headers=None):
    """A request whose path goes out exactly as written (requests would normalise `..`)."""
    parts = urlsplit(gateway)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=b"x" if method in ("POST", "PUT") else None,
                           headers={"Content-Type": "text/plain", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("content_type, body", [
    ("superpants", b"made-up type"),
    ("text/plain; charset=utf-8", "déjà vu".encode()),
    ("application/json", b'{"a": [1, 2.5], "b": null}'),
    ("application/javascript", b'{"looks": "like json",  "but": "is js" }\n'),
    ("application/octet-stream", os.urandom(4096) + b"\x00"),
])
def test_values_round_trip_byte_for_byte_with_their_content_type(gateway, uid, content_type, body):
    url = f"{gateway}/kv/app/settings/value"
    response = requests.post(url, data=body, headers={"Content-Type": content_type, "Uid": uid})
    assert response.status_code == 200
    assert response.json() == {"message": "ok"}
    read = requests.get(url, headers={"Uid": uid})
    assert read.status_code == 200
    assert read.headers["Content-Type"] == content_type
    assert read.content == body
    assert read.headers["ETag"] == response.headers["ETag"]


def test_put_is_the_same_write_with_a_raw_body(gateway, uid):
    url = f"{gateway}/kv/raw"
    requests.put(url, data=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded", "Uid": uid})
    assert requests.get(url, headers={"Uid": uid}).content == b"a=1"


def test_form_post_is_stored_as_json_of_converted_fields(gateway, uid):
    url = f"{gateway}/kv/form"
    requests.post(url, data={"number": "1", "name": "pants"}, headers={"Uid": uid})
    read = requests.get(url, headers={"Uid": uid})
    assert read.headers["Content-Type"] == "application/json"
    assert read.json() == {"number": 1, "name": "pants"}


def test_empty_post_is_stored_as_an_empty_json_object(gateway, uid):
    requests.post(f"{gateway}/kv/empty", headers={"Uid": uid})
    assert requests.get(f"{gateway}/kv/empty", headers={"Uid": uid}).content == b"{}"


def test_invalid_json_is_400_and_the_old_value_stays(gateway, uid):
    url = f"{gateway}/kv/config"
    requests.post(url, data=b'{"ok": true}', headers={"Content-Type": "application/json", "Uid": uid})
    response = requests.post(url, data=b'{"broken"', headers={"Content-Type": "application/json", "Uid": uid})
    assert_error(response, 400, "bad_json")
    assert requests.get(url, headers={"Uid": uid}).content == b'{"ok": true}'


def test_missing_key_is_a_json_404_and_200_under_jsonp(gateway, uid):
    url = f"{gateway}/kv/never/written"
    response = requests.get(url, headers={"Uid": uid})
    assert response.status_code == 404
    assert response.json() == {"message": "key not found"}
    jsonp = requests.get(url, params={"callback": "cb"}, headers={"Uid": uid})
    assert jsonp.status_code == 200
    assert jsonp.headers["Content-Type"].startswith("application/javascript")
    assert jsonp.text == 'cb({"message":"key not found"});'


def test_jsonp_of_stored_values(gateway, uid):
    requests.post(f"{gateway}/kv/doc", data=b'{"a":1}', headers={"Content-Type": "application/json", "Uid": uid})
    requests.post(f"{gateway}/kv/word", data=b"dark", headers={"Content-Type": "text/plain", "Uid": uid})
    assert requests.get(f"{gateway}/kv/doc?callback=cb", headers={"Uid": uid}).text == 'cb({"a":1});'
    assert requests.get(f"{gateway}/kv/word?callback=cb", headers={"Uid": uid}).text == 'cb("dark");'


def test_bad_callback_is_400_and_not_echoed(gateway, uid):
    response = requests.get(f"{gateway}/kv/x", params={"callback": "alert(1)//"}, headers={"Uid": uid})
    assert response.status_code == 400
    assert "alert" not in response.text


def test_delete_removes_and_a_second_delete_is_a_json_404(gateway, uid):
    url = f"{gateway}/kv/gone"
    requests.post(url, data=b"x", headers={"Content-Type": "text/plain", "Uid": uid})
    assert requests.delete(url, headers={"Uid": uid}).json() == {"message": "ok"}
    second = requests.delete(url, headers={"Uid": uid})
    assert second.status_code == 404
    assert second.json() == {"message": "key not found"}


def test_head_etag_and_304(gateway, uid):
    url = f"{gateway}/kv/polled"
    requests.post(url, data=b"hello", headers={"Content-Type": "text/plain", "Uid": uid})
    head = requests.head(url, headers={"Uid": uid})
    assert head.status_code == 200
    assert head.headers["Last-Modified"].endswith("GMT")
    response = requests.get(url, headers={"Uid": uid, "If-None-Match": head.headers["ETag"]})
    assert response.status_code == 304
    assert response.content == b""


def test_namespaces_are_separate(gateway, uid):
    other = uid + "-other"
    url = f"{gateway}/kv/shared-name"
    requests.post(url, data=b"mine", headers={"Content-Type": "text/plain", "Uid": uid})
    assert requests.get(url, headers={"Uid": other}).status_code == 404
    assert requests.get(url, headers={"Uid": uid}).content == b"mine"


def test_prefix_listing_returns_only_keys_under_the_prefix(gateway, uid):
    for key in ("app/settings/theme", "app/settings/lang", "app/settingsX", "app/other"):
        requests.put(f"{gateway}/kv/{key}", data=b"1", headers={"Content-Type": "text/plain", "Uid": uid})
    response = requests.get(f"{gateway}/kv/app/settings/?keys", headers={"Uid": uid})
    assert response.status_code == 200
    assert [entry["key"] for entry in response.json()] == ["app/settings/lang", "app/settings/theme"]
    assert len(requests.get(f"{gateway}/kv/?keys", headers={"Uid": uid}).json()) == 4


def test_value_with_a_ttl_expires(gateway, uid):
    url = f"{gateway}/kv/short"
    assert requests.put(url, params={"ttl": 1}, data=b"x", headers={"Uid": uid}).status_code == 200
    wait_until(lambda: requests.get(url, headers={"Uid": uid}).status_code == 404, 10, "the value to expire")


@pytest.mark.parametrize("path", ["/kv/a/../b", "/kv/a/%2E%2E/b", "/kv/a/./b", "/kv/", "/kv/a%00b"])
def test_bad_keys_are_400_through_the_gateway(gateway, uid, path):
    status, _ = _raw_request(gateway, "POST", path, {"Uid": uid})
    assert status == 400
    assert requests.get(f"{gateway}/kv/?keys", headers={"Uid": uid}).json() == []


def test_oversize_value_is_413_and_the_old_value_stays(gateway, uid):
    url = f"{gateway}/kv/big"
    requests.put(url, data=b"small", headers={"Content-Type": "text/plain", "Uid": uid})
    response = requests.put(url, data=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "text/plain", "Uid": uid})
    assert response.status_code == 413
    assert requests.get(url, headers={"Uid": uid}).content == b"small"


def test_compare_and_set_race_has_exactly_one_winner(gateway, uid):
    url = f"{gateway}/kv/race"
    etag = requests.put(url, data=b"start", headers={"Content-Type": "text/plain", "Uid": uid}).headers["ETag"]
    for round_ in range(5):
        barrier = threading.Barrier(2)
        statuses = {}

        def write(name):
            with requests.Session() as session:
                barrier.wait()
                statuses[name] = session.put(url, data=name.encode(), headers={
                    "Content-Type": "text/plain", "Uid": uid, "If-Match": etag}).status_code

        threads = [threading.Thread(target=write, args=(f"writer-{round_}-{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(statuses.values()) == [200, 412]
        winner = next(name for name, status in statuses.items() if status == 200)
        read = requests.get(url, headers={"Uid": uid})
        assert read.content == winner.encode()
        etag = read.headers["ETag"]


def test_if_none_match_star_creates_only_once(gateway, uid):
    url = f"{gateway}/kv/lock"
    headers = {"Content-Type": "text/plain", "Uid": uid, "If-None-Match": "*"}
    assert requests.put(url, data=b"first", headers=headers).status_code == 200
    assert requests.put(url, data=b"second", headers=headers).status_code == 412
    assert requests.get(url, headers={"Uid": uid}).content == b"first"


def test_concurrent_readers_see_only_whole_values(gateway, uid):
    url = f"{gateway}/kv/hot"
    values = [bytes([65 + n]) * (64 * 1024 + n * 4096) for n in range(4)]
    requests.put(url, data=values[0], headers={"Content-Type": "application/octet-stream", "Uid": uid})
    stop = threading.Event()
    reads, writes, bad = [], [], []

    def writer(value):
        with requests.Session() as session:
            while not stop.is_set():
                status = session.put(url, data=value, headers={
                    "Content-Type": "application/octet-stream", "Uid": uid}).status_code
                writes.append(status)

    def reader():
        with requests.Session() as session:
            while not stop.is_set():
                response = session.get(url, headers={"Uid": uid})
                reads.append(1)
                if response.status_code != 200 or response.content not in values:
                    bad.append((response.status_code, len(response.content), response.content[:16]))

    threads = [threading.Thread(target=writer, args=(value,)) for value in values]
    threads += [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(reads) >= 600 and len(writes) >= 100, 120, "600 reads and 100 writes")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert bad == []
    assert set(writes) == {200}


@pytest.mark.slow
def test_acknowledged_values_survive_kill_9_of_the_service(stack, gateway, uid):
    body = os.urandom(32 * 1024)
    written = {}
    for n in range(20):
        response = requests.put(f"{gateway}/kv/durable/{n}", data=body + bytes([n]),
                                headers={"Content-Type": "application/x-thing", "Uid": uid})
        assert response.status_code == 200
        written[n] = response.headers["ETag"]
    stack.kill("kv")
    stack.start("kv")
    for n, etag in written.items():
        response = requests.get(f"{gateway}/kv/durable/{n}", headers={"Uid": uid})
        assert response.status_code == 200
        assert response.content == body + bytes([n])
        assert response.headers["Content-Type"] == "application/x-thing"
        assert response.headers["ETag"] == etag
