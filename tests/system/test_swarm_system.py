"""hipflask on a single-node Docker Swarm (deploy/swarm.yml, deployed by scripts/swarm.sh), through
its gateway only: every family answers, scaled services keep every acknowledged write, a rolling
update under load fails no request, a killed task is replaced with nothing lost, the uploader's
first-writer-wins holds across fs replicas, and `docker stack rm` leaves nothing behind. The system
tier runs on the same deploy first (the `swarm` kind of its `stack`)."""
from __future__ import annotations

import collections
import threading
import time
import uuid

import pytest
import requests

from support import race_uploads, run_threads, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def swarm(swarm_stack):
    """The session's swarm (tests/system/conftest.py), which the system tier ran on before this
    module: these tests come last (they scale it, roll it, and remove it)."""
    return swarm_stack


def test_every_family_answers_through_the_swarm_gateway(swarm):
    url = swarm.url
    assert requests.get(f"{url}/diagnostic", timeout=10).status_code == 200
    item_id = requests.post(f"{url}/store/things", json={"name": "pants"}, timeout=10).json()["id"]
    assert requests.get(f"{url}/store/things/{item_id}", timeout=10).json()["name"] == "pants"
    requests.put(f"{url}/kv/greeting", data=b"hello", headers={"Content-Type": "text/plain"}, timeout=10)
    assert requests.get(f"{url}/kv/greeting", timeout=10).content == b"hello"
    requests.put(f"{url}/fs/swarm/notes.txt", data=b"notes", timeout=10)
    assert requests.get(f"{url}/fs/swarm/notes.txt", timeout=10).content == b"notes"
    assert "World" in requests.get(f"{url}/render/hello.html", timeout=10).text


def test_scaled_services_keep_every_acknowledged_write(swarm):
    swarm.scale_services(store=3, kv=3, fs=3)
    name = f"scaled{uuid.uuid4().hex[:8]}"
    acknowledged = collections.defaultdict(list)
    lock = threading.Lock()

    def writer():
        session = requests.Session()
        for _ in range(25):
            tag = uuid.uuid4().hex
            stored = session.post(f"{swarm.url}/store/{name}", json={"tag": tag}, timeout=30)
            kv = session.put(f"{swarm.url}/kv/{name}/{tag}", data=tag.encode(), headers={"Content-Type": "text/plain"},
                             timeout=30)
            fs = session.put(f"{swarm.url}/fs/{name}/{tag}.txt", data=tag.encode(), timeout=30)
            with lock:
                if stored.status_code == 200:
                    acknowledged["store"].append((stored.json()["id"], tag))
                if kv.status_code in (200, 201):
                    acknowledged["kv"].append(tag)
                if fs.status_code == 200:
                    acknowledged["fs"].append(tag)

    run_threads(writer, 8, timeout=300)
    ids = [item_id for item_id, _ in acknowledged["store"]]
    assert len(ids) == len(set(ids)) == 200
    items = {item["id"]: item["tag"] for item in requests.get(f"{swarm.url}/store/{name}", timeout=30).json()}
    assert all(items[item_id] == tag for item_id, tag in acknowledged["store"])
    assert len(acknowledged["kv"]) == len(acknowledged["fs"]) == 200
    for tag in acknowledged["kv"][:50]:  # reads spread over every replica
        assert requests.get(f"{swarm.url}/kv/{name}/{tag}", timeout=10).content == tag.encode()
        assert requests.get(f"{swarm.url}/fs/{name}/{tag}.txt", timeout=10).content == tag.encode()


def test_a_rolling_update_of_store_under_load_fails_no_request(swarm):
    stop = threading.Event()
    outcomes = collections.Counter()
    failures = []
    lock = threading.Lock()
    seed = requests.post(f"{swarm.url}/store/rolling", json={"seed": True}, timeout=10).json()["id"]

    def load(kind: str):
        session = requests.Session()
        while not stop.is_set():
            try:
                if kind == "write":
                    answer = session.post(f"{swarm.url}/store/rolling", json={"at": time.time()}, timeout=30)
                else:
                    answer = session.get(f"{swarm.url}/store/rolling/{seed}", timeout=30)
                failed = answer.status_code >= 400
                detail = f"{kind} {answer.status_code} {answer.text[:120]}"
            except requests.RequestException as exc:
                failed, detail = True, f"{kind} {type(exc).__name__}"
            with lock:
                outcomes[kind, "failed" if failed else "ok"] += 1
                if failed:
                    failures.append(detail)

    threads = [threading.Thread(target=load, args=(kind,)) for kind in ("write", "read", "write", "read")]
    for thread in threads:
        thread.start()
    try:
        swarm.docker("service", "update", "--force", "--detach=false", swarm.service("store"))
    finally:
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(60)
    print(f"rolling update of store: {dict(outcomes)}")
    assert failures == []
    assert outcomes["write", "ok"] > 0 and outcomes["read", "ok"] > 0


def test_a_killed_store_task_is_replaced_and_nothing_is_lost(swarm):
    name = f"killed{uuid.uuid4().hex[:8]}"
    ids = [requests.post(f"{swarm.url}/store/{name}", json={"n": n}, timeout=10).json()["id"] for n in range(20)]
    before = len(swarm.containers("store"))
    victim = swarm.containers("store")[0]
    swarm.docker("kill", "--signal", "KILL", victim)
    wait_until(lambda: victim not in swarm.containers("store") and len(swarm.containers("store")) == before, 120,
               "swarm to replace the killed store task")
    wait_until(lambda: requests.get(f"{swarm.url}/diagnostic", timeout=5).status_code == 200, 60, "a green /diagnostic")
    listed = requests.get(f"{swarm.url}/store/{name}", timeout=10).json()
    assert [item["id"] for item in listed] == ids


def test_racing_uploads_across_fs_replicas_keep_exactly_one(swarm):
    assert len(swarm.containers("fs")) >= 2
    partition = f"race{uuid.uuid4().hex[:8]}"
    outcomes = race_uploads(swarm.url, partition)
    assert sorted(outcomes.values()) == [200] + [409] * 11
    winner = next(number for number, status in outcomes.items() if status == 200)
    assert requests.get(f"{swarm.url}/dl/{partition}/same.txt", timeout=10).content == f"writer {winner}".encode()


def test_stack_rm_removes_every_service_and_network(swarm):
    swarm.script("down")
    assert swarm.services() == []
    stack_label = f"label=com.docker.stack.namespace={swarm.name}"
    assert swarm.docker("network", "ls", "-q", "--filter", stack_label).split() == []
