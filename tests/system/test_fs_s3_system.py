"""fs and render on S3 (SeaweedFS) through the gateway, natively and in compose (docker-compose.s3.yml):
the same answers as on the local volume, downloads fetched by the gateway from the object store (their
presigned URLs kept by the download memo like the volume's redirects), the uploader's first-writer-wins
across fs replicas, and templates every render replica uses at once."""
import hashlib
import os
import time
import uuid

import pytest
import requests

from download_memo import (
    check_a_deleted_file_answers_404_json,
    check_a_replaced_file_has_its_own_etag_and_no_stale_sha256,
)
from sse_client import Subscriber
from stacks import ComposeStack, NativeStack
from support import fs_downloaded_bytes, race_uploads, wait_until


@pytest.fixture(scope="module", params=["native", "compose"])
def s3_stack(request):
    if request.param == "native":
        stack = NativeStack()
        stack.env.update(FS_BACKEND="s3", TEMPLATE_BACKEND="s3", S3_ENDPOINT_URL=request.getfixturevalue("s3_endpoint"),
                         S3_BUCKET="hipflask-system", S3_PREFIX=f"t-{uuid.uuid4().hex}",
                         S3_ACCESS_KEY_ID="test", S3_SECRET_ACCESS_KEY="test")
    else:
        stack = ComposeStack()
        stack.project += "-s3"
        stack.compose += ["-f", "docker-compose.yml", "-f", "docker-compose.s3.yml"]
    with stack as running:
        yield running


@pytest.fixture
def url(s3_stack):
    return s3_stack.url


def test_a_file_put_through_the_gateway_comes_back_byte_identical(url):
    blob = os.urandom(3 * 1024 * 1024 + 7)
    assert requests.put(f"{url}/fs/s3/blob.bin", data=blob, timeout=30).status_code == 200
    response = requests.get(f"{url}/fs/s3/blob.bin", timeout=30)
    assert response.status_code == 200
    assert response.content == blob
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(blob).hexdigest()


def test_a_second_range_read_inside_the_memo_does_not_reach_the_fs_service(s3_stack, url):
    data = os.urandom(4096)
    requests.put(f"{url}/fs/s3/memo.bin", data=data, timeout=10)

    def a_pair_inside_the_memo():
        """What the fs service counted for two reads well inside the memo's 1 s (None when the machine
        was too slow to send both in 0.5 s): one file, the first read's, when the second was memoised."""
        before = fs_downloaded_bytes(s3_stack)  # in compose a `docker exec`: read outside the pair
        with requests.Session() as session:
            started = time.monotonic()
            first = session.get(f"{url}/fs/s3/memo.bin", headers={"Range": "bytes=0-99"}, timeout=10)
            second = session.get(f"{url}/fs/s3/memo.bin", headers={"Range": "bytes=0-99"}, timeout=10)
            elapsed = time.monotonic() - started
        assert first.content == second.content == data[:100] and second.status_code == 206
        return (fs_downloaded_bytes(s3_stack) - before,) if elapsed < 0.5 else None
    # apart by more than the memo lives (nginx counts its validity in whole seconds: up to 2 s)
    assert wait_until(a_pair_inside_the_memo, 30, "two reads inside the memo", interval=2.1) == (len(data),)


def test_a_file_deleted_within_the_memo_answers_404_json(url):
    check_a_deleted_file_answers_404_json(url)


def test_a_file_replaced_within_the_memo_has_its_own_etag_and_no_stale_sha256(url):
    check_a_replaced_file_has_its_own_etag_and_no_stale_sha256(url)


def test_a_range_is_served_as_206(url):
    requests.put(f"{url}/fs/s3/range.txt", data=b"0123456789", timeout=10)
    response = requests.get(f"{url}/fs/s3/range.txt", headers={"Range": "bytes=3-5"}, timeout=10)
    assert response.status_code == 206
    assert response.content == b"345"


def test_the_etag_gives_304(url):
    requests.put(f"{url}/fs/s3/etag.txt", data=b"same", timeout=10)
    etag = requests.get(f"{url}/fs/s3/etag.txt", timeout=10).headers["ETag"]
    assert requests.get(f"{url}/fs/s3/etag.txt", headers={"If-None-Match": etag}, timeout=10).status_code == 304


def test_head_answers_the_length_without_a_body(url):
    requests.put(f"{url}/fs/s3/head.txt", data=b"12345", timeout=10)
    response = requests.head(f"{url}/fs/s3/head.txt", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "5"
    assert response.content == b""


def test_an_uploader_download_is_an_attachment_of_its_name(url):
    partition = f"s3p{uuid.uuid4().hex[:8]}"
    requests.post(f"{url}/{partition}", files={"file": ("notes.txt", b"notes")}, timeout=10)
    response = requests.get(f"{url}/dl/{partition}/notes.txt", timeout=10)
    assert response.content == b"notes"
    assert response.raw.headers.getlist("Content-Disposition") == [response.headers["Content-Disposition"]]
    assert response.headers["Content-Disposition"].startswith('attachment; filename="notes.txt"')


def test_an_upload_event_carries_the_etag_the_gateway_serves(url):
    with requests.get(f"{url}/events?path_prefix=s3/event/", stream=True, timeout=(5, 10)) as stream:
        subscriber = Subscriber(stream.iter_content(chunk_size=None), on_close=stream.close)
        subscriber.wait_open()
        requests.put(f"{url}/fs/s3/event/a.txt", data=b"hello", timeout=10)
        event = subscriber.next_change()
    assert event.event == "fs.upload"
    assert event.json["etag"] == requests.get(f"{url}/fs/s3/event/a.txt", timeout=10).headers["ETag"]


def test_a_missing_file_is_a_json_404(url):
    response = requests.get(f"{url}/fs/s3/nothing-here.txt", timeout=10)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_racing_uploads_of_one_name_across_fs_replicas_keep_exactly_one(s3_stack):
    if isinstance(s3_stack, ComposeStack):
        s3_stack.scale("fs", 3)
    partition = f"race{uuid.uuid4().hex[:8]}"
    outcomes = race_uploads(s3_stack.url, partition)
    winners = [number for number, status in outcomes.items() if status == 200]
    assert sorted(outcomes.values()) == [200] + [409] * 11
    stored = requests.get(f"{s3_stack.url}/dl/{partition}/same.txt", timeout=10).content
    assert stored == f"writer {winners[0]}".encode()


@pytest.fixture
def template_auth(s3_stack):
    return {"Authorization": f"Bearer {s3_stack.env['RENDER_TOKEN']}"}


def test_a_template_written_through_the_gateway_is_kept_in_the_object_store(url, template_auth):
    name = f"s3-{uuid.uuid4().hex[:8]}/page.txt"
    assert requests.put(f"{url}/template/{name}", data=b"Hi {{ who }}", headers=template_auth,
                        timeout=10).status_code == 201
    assert requests.get(f"{url}/render/{name}?who=S3", timeout=10).text == "Hi S3"
    source = requests.get(f"{url}/template/{name}", timeout=10)
    assert (source.text, source.headers["X-Template-Folder"]) == ("Hi {{ who }}", "user")
    assert requests.delete(f"{url}/template/{name}", headers=template_auth, timeout=10).status_code == 200
    assert requests.get(f"{url}/render/{name}", timeout=10).status_code == 404


def test_every_render_replica_uses_a_replaced_template_on_its_next_render(s3_stack, url, template_auth):
    hosts: set[str] = set()
    if isinstance(s3_stack, ComposeStack):
        s3_stack.scale("render", 2)

        def both_replicas_answer():
            hosts.add(requests.get(f"{url}/render/hello.json", timeout=10).headers["X-Hostname"])
            return len(hosts) == 2
        wait_until(both_replicas_answer, 60, "the gateway to reach both render replicas")
    name = f"s3-{uuid.uuid4().hex[:8]}.txt"
    with requests.Session() as session:
        for version in ("one", "two", "three"):
            session.put(f"{url}/template/{name}", data=version.encode(), headers=template_auth, timeout=10)
            renders = [session.get(f"{url}/render/{name}", timeout=10) for _ in range(12)]
            assert {render.text for render in renders} == {version}
            hosts.update(render.headers["X-Hostname"] for render in renders)
        session.delete(f"{url}/template/{name}", headers=template_auth, timeout=10)
    assert len(hosts) == (2 if isinstance(s3_stack, ComposeStack) else 1)
