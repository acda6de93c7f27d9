"""kill -9 of each process of the native stack under concurrent write load.

Every acknowledged write must be readable afterwards with its content (0 lost, 0 duplicated),
and the killed process must come back by itself: no SIGHUP, nobody starts it. Writes that fail
while it is down are allowed and counted.
"""
from __future__ import annotations

import time

import pytest
import requests

from load import FAMILIES, WriteLoad
from stacks import SERVICES
from support import wait_until

PROCESSES = ("store", "kv", "fs", "render", "diagnostic", "events", "redis", "gateway")
# a request through the gateway that needs the process (redis: /diagnostic checks it)
PROBES = {
    "store": "/store/faults-probe",
    "kv": "/kv/?keys&limit=1",
    "fs": "/fs/faults-probe.txt",
    "render": "/render/hello.html?name=faults",
    "events": "/events",
    "diagnostic": "/diagnostic",
    "redis": "/diagnostic",
    "gateway": "/_gateway/ping",
}


@pytest.fixture(scope="module")
def probe_file(native_stack):
    response = requests.put(f"{native_stack.url}/fs/faults-probe.txt", data=b"probe", timeout=10)
    assert response.status_code == 200


def probe(url: str, name: str) -> bool:
    try:
        with requests.get(f"{url}{PROBES[name]}", timeout=2, stream=True) as response:  # /events never ends
            return response.status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("name", PROCESSES)
def test_acknowledged_writes_survive_a_kill_9_and_the_process_comes_back_by_itself(
        native_stack, probe_file, figures, name):
    restarts_before = native_stack.state()["processes"][name]["restarts"]
    with WriteLoad(native_stack.url) as load:
        wait_until(lambda: load.acknowledged_count() >= 30, 60, "writes acknowledged before the kill")
        killed_at = time.monotonic()
        old_pid = native_stack.crash(name)
        wait_until(lambda: native_stack.back(name, old_pid), 30, f"the supervisor to start {name} again")
        wait_until(lambda: probe(native_stack.url, name), 30, f"{name} to answer through the gateway again")
        restart_seconds = time.monotonic() - killed_at
        family = name if name in FAMILIES else None
        after = load.acknowledged_count(family)
        wait_until(lambda: load.acknowledged_count(family) >= after + 30, 60, "writes acknowledged after the restart")
    checks = load.check()
    for check in checks:
        figures.append(f"kill -9 {name:<10}: {check.family:<5} {check.checked:>4} acknowledged writes checked, "
                       f"{check.lost} lost, {check.duplicated} duplicated")
    figures.append(f"kill -9 {name:<10}: back in {restart_seconds:.2f} s (kill -> first 200 through the gateway); "
                   f"{load.failures()} requests failed meanwhile")
    assert [(c.family, c.lost, c.duplicated) for c in checks] == [(c.family, 0, 0) for c in checks]
    assert all(check.checked > 0 for check in checks)
    assert native_stack.state()["processes"][name]["restarts"] == restarts_before + 1
    native_stack.wait_healthy(30)


def test_diagnostic_reports_a_restarted_services_count_and_fresh_uptime(native_stack):
    old_pid = native_stack.crash("kv")
    wait_until(lambda: native_stack.back("kv", old_pid), 30, "the supervisor to start kv again")
    expected = native_stack.state()["processes"]["kv"]["restarts"]

    def reported():
        body = requests.get(f"{native_stack.url}/diagnostic", timeout=5).json()
        return body["checks"]["kv"]["restarts"] == expected and body
    body = wait_until(reported, 30, f"/diagnostic to report kv's restart {expected}")
    assert body["checks"]["kv"]["uptime_seconds"] < body["checks"]["store"]["uptime_seconds"]
    processes = body["stack"]["processes"]
    assert processes["kv"]["restarts"] == expected
    assert set(processes) == {"redis", "gateway", *SERVICES}
    assert {process["state"] for process in processes.values()} == {"running"}
