"""Supervision seen from outside: each service reports its uptime and restarts in /diagnostic, and
a killed process comes back by itself (natively the fault tier covers every process; here the
compose stack's restart policy)."""
from __future__ import annotations

import time

import pytest
import requests

from support import wait_until

SERVICES = ("diagnostic", "store", "kv", "fs", "render", "events")


def test_diagnostic_reports_each_services_uptime_and_restart_count(gateway):
    checks = requests.get(f"{gateway}/diagnostic", timeout=10).json()["checks"]
    for service in SERVICES:
        assert checks[service]["uptime_seconds"] > 0, service
        assert isinstance(checks[service]["restarts"], int) and checks[service]["restarts"] >= 0, service


@pytest.mark.compose_only
@pytest.mark.slow
def test_a_kill_9_of_a_services_gunicorn_master_in_its_container_brings_it_back_healthy(stack):
    def restarts() -> int:
        return requests.get(f"{stack.url}/diagnostic", timeout=10).json()["checks"]["store"]["restarts"]
    before = wait_until(lambda: stack.healthy() and restarts() is not None and (restarts(),), 60,
                        "/diagnostic to report store's restarts")[0]
    killed_at = time.monotonic()
    old_pid = stack.crash("store")
    wait_until(lambda: stack.container_pid("store") not in (0, old_pid), 60, "Docker to restart the store container")
    wait_until(lambda: stack.container_health("store") == "healthy", 90, "the store container to be healthy")
    stack.wait_routes("store")
    # each diagnostic worker answers from its own last round: the restart shows once every one checked again
    wait_until(lambda: restarts() == before + 1, 30, "/diagnostic to count store's restart")
    assert requests.get(f"{stack.url}/store/after-restart", timeout=10).status_code == 200
    print(f"compose: store back healthy {time.monotonic() - killed_at:.1f} s after kill -9 of its gunicorn master")
