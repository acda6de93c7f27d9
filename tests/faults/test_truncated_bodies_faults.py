"""A request body cut off before its end writes nothing: the old value stays, nothing new is
visible, no temporary file is left and no event is emitted. Sent over raw sockets, through the
gateway (which receives bodies whole before passing them on) and to each service directly
(where hipflask.bodies notices the short body that gunicorn hands over silently).
"""
from __future__ import annotations

import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from support import wait_until

DECLARED = 600_000
SENT = 300_000
BOUNDARY = "hipflaskcut"


def send_cut_off(url: str, method: str, path: str, headers: dict, body: bytes) -> None:
    """Send the request line, headers and `body` (less than the request declares), then hang up."""
    parts = urlsplit(url)
    head = "".join(f"{name}: {value}\r\n" for name, value in {"Host": "127.0.0.1", **headers}.items())
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as connection:
        connection.sendall(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body)
        time.sleep(0.2)  # let the bytes leave before the reset


def cut_by_length(url, method, path, content_type="application/octet-stream", body=b"n" * SENT):
    send_cut_off(url, method, path, {"Content-Type": content_type, "Content-Length": str(DECLARED)}, body)


def cut_chunked(url, method, path, content_type="application/octet-stream", body=b"c" * 3000):
    send_cut_off(url, method, path, {"Content-Type": content_type, "Transfer-Encoding": "chunked"},
                 f"{DECLARED:x}\r\n".encode() + body)


def multipart_start(name: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + b"m" * SENT


CUTS = {"content-length": cut_by_length, "chunked": cut_chunked}


@pytest.fixture(params=["gateway", "service"])
def target(request, integrity_stack):
    """url_for(service): the gateway's URL, or the service's own gunicorn."""
    if request.param == "gateway":
        return lambda service: integrity_stack.url
    return integrity_stack.service_url


@pytest.fixture
def unique():
    return f"cut-{uuid.uuid4().hex[:10]}"


def settled(integrity_stack):
    """Give the service the moment it takes to see the hang-up (nothing to poll for: the point
    is that nothing appears)."""
    time.sleep(0.3)


def no_temporaries(integrity_stack) -> bool:
    fs_data = integrity_stack.data_dir("fs")
    left = [p.name for folder in (fs_data / ".tmp", fs_data / ".gateway-body") if folder.exists()
            for p in folder.rglob("*") if p.is_file()]
    return not left or left


def mentions(events, text: str) -> list:
    return [event for event in events() if text in event.get("event", "")]


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("existing", [True, False], ids=["existing-path", "new-path"])
def test_cut_off_fs_put_keeps_the_old_file_and_leaves_nothing(integrity_stack, target, events, unique, cut, existing):
    gateway = integrity_stack.url
    path = f"/fs/{unique}/file.bin"
    if existing:
        assert requests.put(gateway + path, data=b"o" * 50_000).status_code == 200
    before = events()
    CUTS[cut](target("fs"), "PUT", path)
    settled(integrity_stack)
    response = requests.get(gateway + path)
    if existing:
        assert response.status_code == 200 and response.content == b"o" * 50_000
    else:
        assert response.status_code == 404
    wait_until(lambda: no_temporaries(integrity_stack) is True, 5, "no temporary file left in the fs volume")
    assert mentions(events, unique) == [e for e in before if unique in e.get("event", "")]


@pytest.mark.parametrize("route", ["uploader", "fs-post"])
def test_cut_off_multipart_upload_stores_nothing(integrity_stack, target, events, unique, route):
    gateway = integrity_stack.url
    path = f"/{unique}" if route == "uploader" else f"/fs/{unique}/multi.bin"
    cut_by_length(target("fs"), "POST", path, f"multipart/form-data; boundary={BOUNDARY}", multipart_start("multi.bin"))
    settled(integrity_stack)
    assert requests.get(f"{gateway}/list/{unique}?format=json").json() == []
    assert requests.get(f"{gateway}/fs/{unique}/multi.bin").status_code == 404
    wait_until(lambda: no_temporaries(integrity_stack) is True, 5, "no temporary file left in the fs volume")
    assert mentions(events, unique) == []


@pytest.mark.parametrize("cut", CUTS)
def test_cut_off_upload_by_put_stores_nothing(integrity_stack, target, events, unique, cut):
    gateway = integrity_stack.url
    CUTS[cut](target("fs"), "PUT", f"/{unique}/put.bin")
    settled(integrity_stack)
    assert requests.get(f"{gateway}/list/{unique}?format=json").json() == []
    wait_until(lambda: no_temporaries(integrity_stack) is True, 5, "no temporary file left in the fs volume")
    assert mentions(events, unique) == []


@pytest.mark.parametrize("cut", CUTS)
def test_cut_off_kv_put_keeps_the_old_value(integrity_stack, target, events, unique, cut):
    gateway = integrity_stack.url
    old = requests.put(f"{gateway}/kv/{unique}", data=b"old", headers={"Content-Type": "text/plain"})
    assert old.status_code in (200, 201)
    CUTS[cut](target("kv"), "PUT", f"/kv/{unique}", "text/plain")
    CUTS[cut](target("kv"), "POST", f"/kv/{unique}-new", "application/json", b'{"a": "' + b"x" * 2000)
    settled(integrity_stack)
    assert requests.get(f"{gateway}/kv/{unique}").content == b"old"
    assert requests.get(f"{gateway}/kv/{unique}-new").status_code == 404
    assert len(mentions(events, unique)) == 1  # the first, whole write's


@pytest.mark.parametrize("cut", CUTS)
def test_cut_off_store_writes_change_nothing(integrity_stack, target, events, unique, cut):
    gateway = integrity_stack.url
    assert requests.put(f"{gateway}/store/{unique}/1", json={"v": "old"}).status_code in (200, 201)
    json_start = b'{"v": "' + b"x" * 2000
    CUTS[cut](target("store"), "PUT", f"/store/{unique}/1", "application/json", json_start)
    CUTS[cut](target("store"), "POST", f"/store/{unique}", "application/json", json_start)
    CUTS[cut](target("store"), "PATCH", f"/store/{unique}/1", "application/merge-patch+json", json_start)
    settled(integrity_stack)
    items = requests.get(f"{gateway}/store/{unique}").json()
    assert [item["v"] for item in items] == ["old"]
    assert len(mentions(events, unique)) == 1


def test_cut_off_template_write_keeps_the_old_template(integrity_stack, target, unique):
    gateway = integrity_stack.url
    auth = {"Authorization": "Bearer test-token"}
    assert requests.put(f"{gateway}/template/{unique}.html", data="old {{ 1 }}", headers=auth).status_code in (200, 201)
    send_cut_off(target("render"), "PUT", f"/template/{unique}.html",
                 {**auth, "Content-Type": "text/plain", "Content-Length": str(DECLARED)}, b"new " * 1000)
    settled(integrity_stack)
    assert requests.get(f"{gateway}/render/{unique}.html").text.startswith("old 1")
