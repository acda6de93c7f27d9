"""The store through the gateway only: the original contract, concurrency, durability across SIGKILL."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support import wait_until

TIMEOUT = 30


@pytest.fixture
def user(gateway):
    """Headers of a namespace of this test's own; its items are deleted afterwards."""
    headers = {"Uid": f"store-system-{uuid.uuid4().hex}"}
    yield headers
    for entry in requests.get(f"{gateway}/store", headers=headers, timeout=TIMEOUT).json():
        ids = [item["id"] for item in requests.get(f"{gateway}/store/{entry['name']}", headers=headers,
                                                    timeout=TIMEOUT).json()]
        for start in range(0, len(ids), 500):
            chunk = ",".join(map(str, ids[start:start + 500]))
            requests.delete(f"{gateway}/store/{entry['name']}/{chunk}", headers=headers, timeout=TIMEOUT)


@pytest.fixture
def url(gateway):
    return f"{gateway}/store/list-{uuid.uuid4().hex[:12]}"


def test_append_form_values_and_read_the_item_back(url, user):
    response = requests.post(url, data={"number": "1", "name": "pants"}, headers=user, timeout=TIMEOUT)
    assert response.status_code == 200
    item_id = response.json()["id"]
    item = requests.get(f"{url}/{item_id}", headers=user, timeout=TIMEOUT).json()
    assert (item["id"], item["number"], item["name"]) == (item_id, 1, "pants")


def test_list_gives_every_item_with_its_id_in_id_order(url, user):
    ids = [requests.post(url, json={"n": n}, headers=user, timeout=TIMEOUT).json()["id"] for n in range(3)]
    items = requests.get(url, headers=user, timeout=TIMEOUT).json()
    assert [(item["id"], item["n"]) for item in items] == list(zip(ids, range(3)))


def test_missing_item_is_404_with_an_empty_object(url, user):
    response = requests.get(f"{url}/12345", headers=user, timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.json() == {}


def test_missing_item_as_jsonp_is_200_with_cb_of_an_empty_object(url, user):
    response = requests.get(f"{url}/12345", params={"callback": "cb"}, headers=user, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.text == "cb({});"


def test_merge_updates_removes_and_answers_an_empty_object(url, user):
    item_id = requests.post(url, json={"a": 1, "b": 2, "c": 3}, headers=user, timeout=TIMEOUT).json()["id"]
    response = requests.post(f"{url}/{item_id}", json={"a": 10, "b": None}, headers=user, timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (200, {})
    requests.post(f"{url}/{item_id}", data={"c": "null"}, headers=user, timeout=TIMEOUT)
    item = requests.get(f"{url}/{item_id}", headers=user, timeout=TIMEOUT).json()
    assert item["a"] == 10 and "b" not in item and "c" not in item


def test_merge_of_a_missing_item_creates_it(url, user):
    assert requests.post(f"{url}/77", json={"a": 1}, headers=user, timeout=TIMEOUT).json() == {}
    assert requests.get(f"{url}/77", headers=user, timeout=TIMEOUT).json()["a"] == 1
    assert requests.post(url, json={}, headers=user, timeout=TIMEOUT).json()["id"] == 78


def test_delete_of_a_comma_list_ignores_missing_ids(url, user):
    ids = [requests.post(url, json={"n": n}, headers=user, timeout=TIMEOUT).json()["id"] for n in range(3)]
    response = requests.delete(f"{url}/{ids[0]},{ids[2]},999", headers=user, timeout=TIMEOUT)
    assert response.status_code == 200
    assert [item["id"] for item in requests.get(url, headers=user, timeout=TIMEOUT).json()] == [ids[1]]


def test_namespaces_do_not_see_each_other(url, user):
    requests.post(url, json={"secret": 1}, headers=user, timeout=TIMEOUT)
    for other in ({"Uid": f"other-{uuid.uuid4().hex}"}, {}):
        assert requests.get(url, headers=other, timeout=TIMEOUT).json() == []
        assert requests.get(f"{url}/1", headers=other, timeout=TIMEOUT).status_code == 404


def test_store_index_counts_items(url, user):
    requests.post(url, json={}, headers=user, timeout=TIMEOUT)
    requests.post(url, json={}, headers=user, timeout=TIMEOUT)
    name = url.rsplit("/", 1)[1]
    assert requests.get(url.rsplit("/", 1)[0], headers=user, timeout=TIMEOUT).json() == [{"name": name, "count": 2}]


def test_paging_headers_pass_the_gateway(url, user):
    for n in range(5):
        requests.post(url, json={"n": n}, headers=user, timeout=TIMEOUT)
    response = requests.get(url, params={"_limit": 2, "_sort": "-n"}, headers=user, timeout=TIMEOUT)
    assert [item["n"] for item in response.json()] == [4, 3]
    assert response.headers["X-Total-Count"] == "5"
    following = requests.get(response.links["next"]["url"], headers=user, timeout=TIMEOUT)
    assert [item["n"] for item in following.json()] == [2, 1]


def test_etag_gives_304_and_a_stale_if_match_gives_412(url, user):
    item_id = requests.post(url, json={"a": 1}, headers=user, timeout=TIMEOUT).json()["id"]
    etag = requests.get(f"{url}/{item_id}", headers=user, timeout=TIMEOUT).headers["ETag"]
    assert requests.get(f"{url}/{item_id}", headers={**user, "If-None-Match": etag}, timeout=TIMEOUT).status_code == 304
    requests.put(f"{url}/{item_id}", json={"a": 2}, headers=user, timeout=TIMEOUT)
    stale = requests.post(f"{url}/{item_id}", json={"a": 3}, headers={**user, "If-Match": etag}, timeout=TIMEOUT)
    assert stale.status_code == 412
    assert requests.get(f"{url}/{item_id}", headers=user, timeout=TIMEOUT).json()["a"] == 2


def test_patch_merge_patch_and_head(url, user):
    item_id = requests.post(url, json={"o": {"x": 1, "y": 2}}, headers=user, timeout=TIMEOUT).json()["id"]
    response = requests.patch(f"{url}/{item_id}", data='{"o": {"y": null}}', timeout=TIMEOUT,
                              headers={**user, "Content-Type": "application/merge-patch+json"})
    assert response.json()["o"] == {"x": 1}
    head = requests.head(f"{url}/{item_id}", headers=user, timeout=TIMEOUT)
    assert head.status_code == 200 and head.headers["ETag"] == response.headers["ETag"]


def test_bad_id_and_bad_json_are_400_in_the_error_shape(url, user):
    for response in (requests.get(f"{url}/-1", headers=user, timeout=TIMEOUT),
                     requests.post(url, data="{oops", headers={**user, "Content-Type": "application/json"},
                                   timeout=TIMEOUT),
                     requests.post(url, json=[1, 2], headers=user, timeout=TIMEOUT)):
        assert response.status_code == 400
        assert {"status", "code", "message", "eid"} <= set(response.json())
    assert requests.get(url, headers=user, timeout=TIMEOUT).json() == []


def test_a_body_over_the_limit_is_413(url, user):
    response = requests.post(url, json={"big": "x" * (2 * 1024 * 1024)}, headers=user, timeout=TIMEOUT)
    assert response.status_code == 413
    assert requests.get(url, headers=user, timeout=TIMEOUT).json() == []


def test_concurrent_writers_and_readers_lose_nothing_and_share_no_id(url, user):
    writers, per_writer = 8, 50
    failures: list[str] = []
    done = threading.Event()

    def write(worker: int) -> list[tuple[int, int, int]]:
        acknowledged = []
        with requests.Session() as session:
            for n in range(per_writer):
                response = session.post(url, json={"worker": worker, "n": n}, headers=user, timeout=TIMEOUT)
                if response.status_code != 200:
                    failures.append(f"POST {response.status_code} {response.text[:200]}")
                    continue
                acknowledged.append((response.json()["id"], worker, n))
        return acknowledged

    def read() -> int:
        reads = 0
        with requests.Session() as session:
            while not done.is_set():
                listing = session.get(url, headers=user, timeout=TIMEOUT)
                item = session.get(f"{url}/1", headers=user, timeout=TIMEOUT)
                if listing.status_code != 200 or item.status_code not in (200, 404):
                    failures.append(f"GET {listing.status_code}/{item.status_code} {listing.text[:200]}")
                reads += 1
        return reads

    with ThreadPoolExecutor(max_workers=writers + 4) as pool:
        readers = [pool.submit(read) for _ in range(4)]
        results = [pool.submit(write, worker) for worker in range(writers)]
        acknowledged = [entry for future in results for entry in future.result()]
        done.set()
        assert all(reader.result() > 0 for reader in readers)

    assert failures == []
    ids = [item_id for item_id, _, _ in acknowledged]
    assert len(ids) == writers * per_writer
    assert len(set(ids)) == len(ids)
    stored = requests.get(url, headers=user, timeout=TIMEOUT).json()
    assert len(stored) == len(ids)
    assert {item["id"]: (item["worker"], item["n"]) for item in stored} == {
        item_id: (worker, n) for item_id, worker, n in acknowledged}


@pytest.mark.slow
def test_acknowledged_writes_survive_a_sigkill_of_the_store(stack, url, user):
    acknowledged = {}
    for n in range(30):
        response = requests.post(url, json={"n": n}, headers=user, timeout=TIMEOUT)
        assert response.status_code == 200
        acknowledged[response.json()["id"]] = n
    first = min(acknowledged)
    assert requests.post(f"{url}/{first}", json={"merged": True}, headers=user, timeout=TIMEOUT).status_code == 200

    stack.kill("store")
    stack.start("store")

    stored = {item["id"]: item for item in requests.get(url, headers=user, timeout=TIMEOUT).json()}
    assert {item_id: item["n"] for item_id, item in stored.items()} == acknowledged
    assert stored[first]["merged"] is True
    assert requests.post(url, json={}, headers=user, timeout=TIMEOUT).json()["id"] == max(acknowledged) + 1


@pytest.mark.slow
@pytest.mark.compose_only
def test_three_replicas_on_one_volume_share_ids_without_collision(stack, url, user):
    stack.scale("store", 3)
    try:
        hosts: set[str] = set()

        def three_replicas_answered():
            hosts.add(requests.get(url, headers=user, timeout=TIMEOUT).headers["X-HOSTNAME"])
            return len(hosts) >= 3
        wait_until(three_replicas_answered, 60, "three distinct store X-HOSTNAME values", interval=0.05)

        def write(worker: int) -> list[tuple[int, int]]:
            with requests.Session() as session:
                return [(session.post(url, json={"worker": worker, "n": n}, headers=user,
                                      timeout=TIMEOUT).json()["id"], worker) for n in range(40)]

        with ThreadPoolExecutor(max_workers=8) as pool:
            acknowledged = [entry for batch in pool.map(write, range(8)) for entry in batch]
        ids = [item_id for item_id, _ in acknowledged]
        assert len(set(ids)) == len(ids) == 320
        stored = requests.get(url, headers=user, timeout=TIMEOUT).json()
        assert {item["id"]: item["worker"] for item in stored} == dict(acknowledged)
    finally:
        stack.scale("store", 1)
        wait_until(lambda: all(requests.get(url, headers=user, timeout=TIMEOUT).status_code == 200 for _ in range(20)),
                   30, "the gateway to stop routing to the removed replicas")
