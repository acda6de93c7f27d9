"""The example page's EventSource in a real browser (headless Chromium) across a kill -9 of its events replica."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests

from support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30


def received(page) -> list[dict]:
    return page.evaluate("window.hipflaskEvents")


def add(gateway, uid, n):
    response = requests.post(f"{gateway}/store/live", json={"n": n}, headers={"Uid": uid}, timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()["id"]


def serving_replica(stack) -> str:
    """The events container that holds the page's stream."""
    def find():
        for container in stack.containers("events"):
            if json.loads(stack.container_get(container, "/_hipflask/subscribers"))["subscribers"] > 0:
                return container
        return None
    return wait_until(find, 30, "a replica holding the page's stream", interval=0.5)


def test_the_page_reconnects_after_a_kill_and_misses_no_event(stack, page):
    uid = f"browser-{uuid.uuid4().hex[:10]}"
    stack.put_static("events.html", (ROOT / "static" / "events.html").read_bytes())
    page.goto(f"{stack.url}/static/events.html?uid={uid}&family=store")
    wait_until(lambda: page.locator("#state").inner_text() == "live", 30, "the page's stream to open")
    written = [add(stack.url, uid, n) for n in range(5)]
    wait_until(lambda: len(received(page)) == 5, 30, "the first five events in the page")

    if stack.kind == "compose":
        stack.scale("events", 2)
        try:
            stack.kill_container(serving_replica(stack))
            written += [add(stack.url, uid, n) for n in range(5, 15)]
            wait_until(lambda: len(received(page)) >= 15, 60, "the page to reconnect to the other replica")
        finally:
            stack.scale("events", 1)
    else:
        stack.kill("events")
        written += [add(stack.url, uid, n) for n in range(5, 15)]  # made while no replica is up
        stack.start("events")
        wait_until(lambda: len(received(page)) >= 15, 60, "the page to reconnect to the restarted service")
    written += [add(stack.url, uid, n) for n in range(15, 20)]
    wait_until(lambda: len(received(page)) >= 20, 30, "the live events after the reconnect")

    events = received(page)
    assert [event["data"]["id"] for event in events] == written  # no gap, no duplicate, in order
    ids = [tuple(map(int, event["id"].split("-"))) for event in events]
    assert ids == sorted(set(ids))
