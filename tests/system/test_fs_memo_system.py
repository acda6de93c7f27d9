"""The gateway's download memo (README "Files": the download memo): GET and HEAD of a file reuse the
fs service's X-Accel-Redirect answer for FS_DOWNLOAD_MEMO_SECONDS (1 s) per method, URI and
credentials, and never serve bytes, an ETag or a sha256 that are not the file's own."""
from __future__ import annotations

import hashlib
import os

import requests

from download_memo import (
    check_a_deleted_file_answers_404_json,
    check_a_replaced_file_has_its_own_etag_and_no_stale_sha256,
    unique,
)
from support import bearer, fs_downloaded_bytes, token

SIZE = 256 * 1024


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
    check_a_deleted_file_answers_404_json(gateway)


def test_a_file_replaced_within_the_memo_validity_is_served_with_its_own_etag_and_no_stale_sha256(gateway):
    check_a_replaced_file_has_its_own_etag_and_no_stale_sha256(gateway)


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
