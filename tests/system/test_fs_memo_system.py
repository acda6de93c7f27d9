"""The gateway's download memo (README "Files": the download memo): GET and HEAD of a file reuse the
fs service's X-Accel-Redirect answer for FS_DOWNLOAD_MEMO_SECONDS (1 s) per method, URI and
credentials, and never serve bytes, an ETag or a sha256 that are not the file's own."""
from __future__ import annotations

import hashlib
import os
import uuid

import requests

from support import bearer, fs_downloaded_bytes, token, wait_until

SIZE = 256 * 1024


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def answered_by_the_gateway(response: requests.Response) -> bool:
    """A 404 the gateway wrote itself (its error id is its request id), not the fs service's."""
    return response.json().get("eid") == response.headers["X-Request-ID"]


def test_range_reads_from_the_memo_have_the_file_bytes_etag_and_206(stack, gateway):
    path, data = f"{unique('memo')}/blob.bin", os.urandom(SIZE)
    assert requests.put(f"{gateway}/fs/{path}", data=data, timeout=10).status_code == 200
    first = requests.get(f"{gateway}/fs/{path}", headers={"Range": "bytes=65536-131071"}, timeout=10)
    before = fs_downloaded_bytes(stack)
    with requests.Session() as session:
        answers = [session.get(f"{gateway}/fs/{path}", headers={"Range": "bytes=65536-131071"}, timeout=10)
                   for _ in range(20)]
    asked = (fs_downloaded_bytes(stack) - before) / SIZE
    assert asked < 20  # some came from the memo
    for answer in [first, *answers]:
        assert answer.status_code == 206
        assert answer.content == data[65536:131072]
        assert answer.headers["ETag"] == first.headers["ETag"]
        assert answer.headers["Content-Range"] == f"bytes 65536-131071/{SIZE}"
        assert answer.headers["X-Content-SHA256"] == hashlib.sha256(data).hexdigest()


def test_a_file_deleted_within_the_memo_validity_answers_404_json(gateway):
    path = f"{unique('memo')}/gone.txt"
    requests.put(f"{gateway}/fs/{path}", data=b"soon gone", timeout=10)
    assert requests.get(f"{gateway}/fs/{path}", timeout=10).content == b"soon gone"
    assert requests.delete(f"{gateway}/fs/{path}", timeout=10).status_code == 200
    within = requests.get(f"{gateway}/fs/{path}", timeout=10)
    assert within.status_code == 404
    assert within.headers["Content-Type"] == "application/json"
    assert within.json()["code"] == "not_found"

    def the_service_answers():
        answer = requests.get(f"{gateway}/fs/{path}", timeout=10)
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"
        return not answered_by_the_gateway(answer)
    wait_until(the_service_answers, 10, "the fs service's own 404 once the memo expired", interval=0.2)


def test_a_file_replaced_within_the_memo_validity_is_served_with_its_own_etag_and_no_stale_sha256(gateway):
    path, old, new = f"{unique('memo')}/doc.txt", b"the first version", b"the second, longer version"
    requests.put(f"{gateway}/fs/{path}", data=old, timeout=10)
    first = requests.get(f"{gateway}/fs/{path}", timeout=10)
    requests.put(f"{gateway}/fs/{path}", data=new, timeout=10)
    second = requests.get(f"{gateway}/fs/{path}", timeout=10)
    assert second.status_code == 200
    assert second.content == new
    assert second.headers["ETag"] != first.headers["ETag"]
    assert second.headers.get("X-Content-SHA256") in (None, hashlib.sha256(new).hexdigest())
    assert requests.get(f"{gateway}/fs/{path}", headers={"If-None-Match": second.headers["ETag"]},
                        timeout=10).status_code == 304


def test_the_memo_never_serves_one_token_the_decision_made_for_another(token_stack):
    url, path = token_stack.url, f"{unique('memo')}/private.txt"
    assert requests.put(f"{url}/fs/{path}", data=b"bob's secret", headers=bearer("bob"), timeout=10).status_code == 200
    assert requests.get(f"{url}/fs/{path}", headers=bearer("bob", "read"), timeout=10).content == b"bob's secret"
    assert requests.get(f"{url}/fs/{path}", params={"access_token": token("bob", "read")},
                        timeout=10).content == b"bob's secret"
    # Right after bob's reads (within the memo's validity): every other credential gets its own answer.
    assert requests.get(f"{url}/fs/{path}", headers=bearer("alice", "read"), timeout=10).status_code == 404
    assert requests.get(f"{url}/fs/{path}", headers={"Uid": "bob", **bearer("alice", "read")},
                        timeout=10).status_code == 404
    assert requests.get(f"{url}/fs/{path}", params={"access_token": token("alice", "read")},
                        timeout=10).status_code == 404
    assert requests.get(f"{url}/fs/{path}", timeout=10).status_code == 401
    assert requests.get(f"{url}/fs/{path}", headers={"Uid": "bob"}, timeout=10).status_code == 401


def test_the_memo_hop_is_not_reachable_from_outside(gateway):
    path = f"{unique('memo')}/x.txt"
    requests.put(f"{gateway}/fs/{path}", data=b"x", timeout=10)
    answer = requests.get(f"{gateway}/_fs_memo/fs/{path}", timeout=10)
    assert answer.status_code == 404
    assert "X-Accel-Redirect" not in answer.headers
    assert answer.json()["code"] == "not_found"
