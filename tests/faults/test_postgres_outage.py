"""kill -9 of PostgreSQL under write load, then a restart: every acknowledged write is there, and
every request during the outage failed fast with a 503 naming the database."""
import threading
import time

import pytest

import hipflask
from support import wait_until

from kv.wsgi import build as build_kv
from store.wsgi import build as build_store

WRITERS = 4
FAST = 5.0  # seconds: DATABASE_CONNECT_TIMEOUT below plus the margin of a loaded machine


@pytest.fixture
def server():
    from pgserver import PostgresServer

    running = PostgresServer()
    running.start()
    yield running
    running.stop()


def _write_until(stop, client, write, acknowledged, outcomes):
    """Write until `stop`; `acknowledged` gets what each 200 acknowledged (a store id, a kv key)."""
    n = 0
    while not stop.is_set():
        n += 1
        started = time.monotonic()
        response, written = write(client, n)
        outcomes.append((response.status_code, time.monotonic() - started,
                         (response.get_json(silent=True) or {}).get("database")))
        if response.status_code == 200:
            acknowledged.append(written(response))


@pytest.mark.parametrize("service", ["store", "kv"])
def test_a_killed_database_loses_no_acknowledged_write_and_fails_fast_meanwhile(build_app, server, service, figures):
    app = build_app(build_store if service == "store" else build_kv, DATABASE_URL=server.url,
                    DATABASE_CONNECT_TIMEOUT="1")
    stop = threading.Event()
    acknowledged = {index: [] for index in range(WRITERS)}
    outcomes = []

    def write(client, n):
        if service == "store":
            return client.post("/store/outage", json={"n": n}), lambda response: response.get_json()["id"]
        key = f"outage/{threading.get_ident()}/{n}"
        return client.put(f"/kv/{key}", data=b"1", content_type="text/plain"), lambda response: key

    threads = [threading.Thread(target=_write_until, args=(stop, app.test_client(), write, acknowledged[i], outcomes))
               for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: sum(map(len, acknowledged.values())) > 200, 60, "writes before the kill")
        server.kill()
        wait_until(lambda: sum(1 for status, _, _ in outcomes[-20:] if status == 503) >= 10, 30, "503s in the outage")
        server.start()
        during = len(outcomes)
        wait_until(lambda: sum(1 for status, _, _ in outcomes[during:] if status == 200) > 100, 60,
                   "writes after the restart")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    failed = [(status, seconds, database) for status, seconds, database in outcomes if status != 200]
    assert failed, "the outage was not seen"
    assert {status for status, _, _ in failed} == {503}
    assert {database for _, _, database in failed} == {"postgresql"}
    assert max(seconds for _, seconds, _ in outcomes) < FAST
    client = app.test_client()
    written = [token for acked in acknowledged.values() for token in acked]
    assert len(written) == len(set(written))
    if service == "store":
        assert set(written) <= {item["id"] for item in client.get("/store/outage").get_json()}
    else:
        assert set(written) <= {entry["key"] for entry in client.get("/kv/outage/?keys").get_json()}
    figures.append(f"{service} on PostgreSQL, kill -9 under {WRITERS} writers: {len(written)} acknowledged writes "
                   f"all present, {len(failed)} answered 503 meanwhile, slowest answer "
                   f"{max(seconds for _, seconds, _ in outcomes):.2f}s")
    hipflask.state(app).storage.close()
