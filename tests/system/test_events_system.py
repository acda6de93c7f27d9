"""GET /events through the gateway: latency, replay after a disconnect, reset, filters, namespaces."""
from __future__ import annotations

import re
import shlex
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from sse_client import Subscriber

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30


@pytest.fixture
def uid():
    return f"events-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def subscribe(gateway):
    """subscribe(query, headers): a streaming subscriber through the gateway; closed afterwards."""
    opened = []

    def open_stream(query: str = "", headers: dict | None = None) -> Subscriber:
        response = requests.get(f"{gateway}/events{query}", headers=headers or {}, stream=True, timeout=(5, 10))
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/event-stream")
        subscriber = Subscriber(response.iter_content(chunk_size=None), on_close=response.close)
        opened.append(subscriber)
        subscriber.wait_open()
        return subscriber

    yield open_stream
    for subscriber in opened:
        subscriber.close()


def add(gateway, uid, body, store="todos", session=requests):
    response = session.post(f"{gateway}/store/{store}", json=body, headers={"Uid": uid}, timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()["id"]


def test_a_subscriber_sees_a_store_write_within_100_ms(gateway, subscribe, uid):
    subscriber = subscribe(headers={"Uid": uid})
    delays = []
    for n in range(7):
        add(gateway, uid, {"n": n})
        acknowledged = time.monotonic()
        event = subscriber.next_change(5)
        assert (event.event, event.json["value"]["n"]) == ("store.add", n)
        delays.append(max(0.0, event.received - acknowledged))
    print(f"write acknowledged -> event received: median {statistics.median(delays) * 1000:.1f} ms, "
          f"max {max(delays) * 1000:.1f} ms")
    assert statistics.median(delays) < 0.1, delays


def test_the_readme_curl_example_receives_a_write(gateway, uid):
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^curl -N (.+/events.*?)\s+#", readme, re.MULTILINE).group(1)
    argv = ["curl", "-sN", "--max-time", "4", *shlex.split(command.replace("http://127.0.0.1:8080", gateway))]
    argv = [arg.replace("alice", uid) for arg in argv]
    curl = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)  # let curl connect; it runs for 4 s
        add(gateway, uid, {"from": "readme"})
        output = curl.communicate(timeout=10)[0]
    finally:
        curl.kill()
    assert "event: store.add" in output
    assert '"from":"readme"' in output


def test_reconnecting_with_last_event_id_gets_exactly_the_500_missed_writes_in_order(gateway, subscribe, uid):
    first = subscribe(headers={"Uid": uid})
    add(gateway, uid, {"n": -1})
    seen = first.next_change().id
    first.close()
    with requests.Session() as session:
        missed = [add(gateway, uid, {"n": n}, session=session) for n in range(500)]
    again = subscribe(headers={"Uid": uid, "Last-Event-ID": seen})
    live = add(gateway, uid, {"n": 500})
    events = again.changes(501, timeout=60)
    assert [event.json["id"] for event in events] == missed + [live]
    ids = [tuple(map(int, event.id.split("-"))) for event in events]
    assert ids == sorted(set(ids))  # in stream order, no duplicate
    assert again.quiet_for(0.5) == []


def test_an_id_older_than_the_oldest_kept_event_gives_reset(gateway, subscribe, uid):
    watcher = subscribe(headers={"Uid": uid})
    requests.post(f"{gateway}/message/local_publish", data={"n": "first"}, headers={"Uid": uid}, timeout=TIMEOUT)
    old = watcher.next_change().id
    watcher.close()
    with requests.Session() as session:  # EVENT_STREAM_MAXLEN is 1000 in the test stacks
        for n in range(1300):
            session.post(f"{gateway}/message/local_publish", data={"n": n}, timeout=TIMEOUT)
    back = subscribe(headers={"Uid": uid, "Last-Event-ID": old})
    reset = back.next_change()
    assert reset.event == "reset"
    assert reset.json["reason"] == "trimmed"


def test_alice_never_sees_bobs_events(gateway, subscribe, uid):
    alice = subscribe(f"?uid={uid}-alice")
    add(gateway, f"{uid}-bob", {"secret": True})
    add(gateway, f"{uid}-alice", {"mine": True})
    event = alice.next_change()
    assert event.json["namespace"] == f"{uid}-alice"
    assert event.json["value"]["mine"] is True
    assert alice.quiet_for(0.5) == []


def test_filters_combine_through_the_gateway(gateway, subscribe, uid):
    watcher = subscribe(f"?uid={uid}&store=todos&key_prefix=cfg/")
    add(gateway, uid, {"n": 1}, store="other")
    requests.put(f"{gateway}/kv/app/x", data=b"1", headers={"Uid": uid, "Content-Type": "application/json"},
                 timeout=TIMEOUT)
    requests.put(f"{gateway}/kv/cfg/x", data=b"1", headers={"Uid": uid, "Content-Type": "application/json"},
                 timeout=TIMEOUT)
    add(gateway, uid, {"n": 2})
    assert [event.event for event in watcher.changes(2)] == ["kv.set", "store.add"]
    assert watcher.quiet_for(0.5) == []


def test_an_unknown_filter_is_a_400_json_error(gateway):
    response = requests.get(f"{gateway}/events?colour=red", timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_filter"


def test_an_fs_upload_event_carries_the_etag_the_gateway_serves(gateway, subscribe, uid):
    watcher = subscribe(f"?path_prefix=events-test/{uid}/")
    requests.put(f"{gateway}/fs/events-test/{uid}/a.txt", data=b"hello", timeout=TIMEOUT)
    event = watcher.next_change()
    assert event.event == "fs.upload"
    served = requests.get(f"{gateway}/fs/events-test/{uid}/a.txt", timeout=TIMEOUT)
    assert event.json["etag"] == served.headers["ETag"]
    requests.delete(f"{gateway}/fs/events-test/{uid}/a.txt", timeout=TIMEOUT)
