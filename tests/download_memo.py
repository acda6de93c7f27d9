"""What a change to a file within the gateway's download memo looks like through the gateway (README
"Files": the download memo), written once for the memo's module and the S3 one."""
from __future__ import annotations

import hashlib
import uuid

import requests

from support import wait_until


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def answered_by_the_gateway(response: requests.Response) -> bool:
    """A 404 the gateway wrote itself (its error id is its request id), not the fs service's."""
    return response.json().get("eid") == response.headers["X-Request-ID"]


def check_a_deleted_file_answers_404_json(gateway: str) -> None:
    """Deleted within the validity: a JSON 404 at once, the fs service's own once the memo expired."""
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


def check_a_replaced_file_has_its_own_etag_and_no_stale_sha256(gateway: str) -> None:
    """Replaced within the validity: the new bytes with their own ETag (and 304), never the old sha256."""
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

    def the_service_answers():
        return requests.get(f"{gateway}/fs/{path}", timeout=10).headers.get("X-Content-SHA256")
    sha256 = wait_until(the_service_answers, 10, "the new sha256 once the memo expired", interval=0.2)
    assert sha256 == hashlib.sha256(new).hexdigest()
