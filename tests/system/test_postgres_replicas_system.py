"""Stateless replicas on PostgreSQL, through the gateway: compose with docker-compose.postgres.yml,
three store and three kv replicas with no volume of their own, one database.

The store and kv system modules run on compose-on-PostgreSQL with one replica each (the
`compose-postgres` stack of tests/system/conftest.py); what only a real multi-replica deployment
shows is tested here.
"""
import json
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests

from stacks import ComposeStack
from support import run_threads, wait_until

THREADS = 8
APPENDS = 200
REPLICAS = 3


@pytest.fixture(scope="module")
def postgres_stack():
    """Compose with docker-compose.postgres.yml, scaled to three store and three kv replicas."""
    # every append of one store waits for the one before it (their lock is the store's row): on a
    # loaded CI machine that wait may exceed the default 5 s statement timeout
    stack = ComposeStack({"DATABASE_STATEMENT_TIMEOUT": "30"})
    stack.project += "-pg"
    stack.compose += ["-f", "docker-compose.yml", "-f", "docker-compose.postgres.yml"]
    with stack as running:
        # `--wait` gives up at a new replica's first failed healthcheck; on a loaded machine one can
        # fail while it starts and pass later, so the deadline is ours
        running.run("up", "-d", "--no-recreate", "--wait", "--scale", f"store={REPLICAS}", "--scale", f"kv={REPLICAS}",
                    check=False)
        wait_until(lambda: all(health(container) == "healthy" for service in ("store", "kv")
                               for container in replicas(running, service)), 180, "every replica to be healthy")
        running.wait_healthy()
        yield running


def health(container: str) -> str:
    return subprocess.run(["docker", "inspect", "--format", "{{.State.Health.Status}}", container],
                          capture_output=True, text=True).stdout.strip()


def replicas(stack, service: str) -> list[str]:
    """The ids of the service's running containers."""
    return stack.run("ps", "-q", service).stdout.split()


def mounts(container: str) -> list[dict]:
    result = subprocess.run(["docker", "inspect", "--format", "{{json .Mounts}}", container],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def inside(stack, service: str, index: int, path: str, headers: dict | None = None) -> str:
    """GET `path` from one replica directly (not through the gateway); the body."""
    script = ("import sys, urllib.request; r = urllib.request.Request('http://127.0.0.1:8000' + sys.argv[1], "
              "headers=dict(h.split(':', 1) for h in sys.argv[2:])); "
              "sys.stdout.write(urllib.request.urlopen(r, timeout=10).read().decode())")
    pairs = [f"{name}:{value}" for name, value in (headers or {}).items()]
    return stack.run("exec", "-T", "--index", str(index), service, "python", "-c", script, path, *pairs).stdout


def test_three_replicas_of_store_and_kv_run_with_no_volume_of_their_own(postgres_stack):
    for service in ("store", "kv"):
        containers = replicas(postgres_stack, service)
        assert len(containers) == REPLICAS
        assert [mounts(container) for container in containers] == [[]] * REPLICAS


def test_concurrent_appends_through_every_replica_take_each_id_exactly_once(postgres_stack):
    url = f"{postgres_stack.url}/store/replicated"
    ids, hosts, lock = [], Counter(), threading.Lock()

    def append():
        with requests.Session() as session:
            for n in range(APPENDS):
                response = session.post(url, json={"n": n}, timeout=30)
                assert response.status_code == 200, response.text
                with lock:
                    ids.append(response.json()["id"])
                    hosts[response.headers["X-HOSTNAME"]] += 1

    run_threads(append, THREADS, timeout=600)
    assert len(ids) == THREADS * APPENDS
    assert sorted(ids) == list(range(1, THREADS * APPENDS + 1))
    assert len(hosts) == REPLICAS, hosts
    listed = requests.get(url, timeout=30)
    assert listed.headers["X-Total-Count"] == str(THREADS * APPENDS)
    for index in range(1, REPLICAS + 1):
        seen = [item["id"] for item in json.loads(inside(postgres_stack, "store", index, "/store/replicated"))]
        assert sorted(seen) == sorted(ids)


def test_a_kv_write_is_readable_from_every_replica(postgres_stack):
    assert requests.put(f"{postgres_stack.url}/kv/replicated/note", data=b"everywhere",
                        headers={"Content-Type": "text/plain", "Uid": "alice"}, timeout=10).status_code == 200
    for index in range(1, REPLICAS + 1):
        assert inside(postgres_stack, "kv", index, "/kv/replicated/note", {"Uid": "alice"}) == "everywhere"


@pytest.mark.parametrize("condition", ["If-None-Match", "If-Match"])
def test_a_compare_and_set_race_across_replicas_has_exactly_one_winner(postgres_stack, condition):
    url = f"{postgres_stack.url}/kv/race/{condition}"
    headers = {"Content-Type": "text/plain"}
    if condition == "If-Match":
        etag = requests.put(url, data=b"0", headers=headers, timeout=10).headers["ETag"]
        headers[condition] = etag
    else:
        headers[condition] = "*"
    statuses, hosts, lock, barrier = Counter(), set(), threading.Lock(), threading.Barrier(12)

    def contend():
        barrier.wait(30)
        response = requests.put(url, data=b"mine", headers=headers, timeout=30)
        with lock:
            statuses[response.status_code] += 1
            hosts.add(response.headers.get("X-HOSTNAME"))

    for _ in range(3):  # three rounds, so every replica is among the contenders
        statuses.clear()
        if condition == "If-None-Match":
            requests.delete(url, timeout=10)
        else:
            headers[condition] = requests.put(url, data=b"0", headers={"Content-Type": "text/plain"},
                                              timeout=10).headers["ETag"]
        run_threads(contend, 12, timeout=120)
        assert statuses == Counter({200: 1, 412: 11}), statuses
    assert len(hosts) >= 2, hosts


def test_store_if_match_race_across_replicas_has_exactly_one_winner(postgres_stack):
    url = f"{postgres_stack.url}/store/cas"
    item = requests.put(f"{url}/1", json={"v": 0}, timeout=10)
    etag = item.headers["ETag"]
    statuses, lock = Counter(), threading.Lock()

    def contend():
        response = requests.put(f"{url}/1", json={"v": 1}, headers={"If-Match": etag}, timeout=30)
        with lock:
            statuses[response.status_code] += 1

    run_threads(contend, 12, timeout=120)
    assert statuses == Counter({200: 1, 412: 11}), statuses


def test_postgres_killed_under_load_loses_no_acknowledged_append_and_fails_fast(postgres_stack):
    url = f"{postgres_stack.url}/store/outage"
    stop, acknowledged, outcomes, lock = threading.Event(), [], [], threading.Lock()

    def append():
        with requests.Session() as session:
            while not stop.is_set():
                started = time.monotonic()
                response = session.post(url, json={"x": 1}, timeout=30)
                with lock:
                    outcomes.append((response.status_code, time.monotonic() - started))
                    if response.status_code == 200:
                        acknowledged.append(response.json()["id"])

    threads = [threading.Thread(target=append) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(acknowledged) > 100, 60, "appends before the kill")
        postgres_stack.kill("postgres")
        wait_until(lambda: sum(1 for status, _ in outcomes[-10:] if status == 503) >= 5, 30, "503s in the outage")
        postgres_stack.run("up", "-d", "--no-deps", "--wait", "postgres")
        during = len(outcomes)
        wait_until(lambda: sum(1 for status, _ in outcomes[during:] if status == 200) > 50, 90, "appends again")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert {status for status, _ in outcomes} <= {200, 503}
    assert max(seconds for _, seconds in outcomes) < 10
    listed = {item["id"] for item in requests.get(url, timeout=30).json()}
    assert len(acknowledged) == len(set(acknowledged))
    assert set(acknowledged) <= listed
