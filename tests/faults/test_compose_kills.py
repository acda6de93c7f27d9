"""kill -9 of a service's gunicorn master inside its container, under write load (compose stack).

Docker's restart policy (`restart: unless-stopped`) brings the container back; every write
acknowledged before, during and after is readable with its content afterwards.
"""
from __future__ import annotations

import time

import pytest
import requests

from load import WriteLoad
from stacks import ComposeStack
from support import wait_until


def restarts(stack: ComposeStack, service: str):
    return requests.get(f"{stack.url}/diagnostic", timeout=10).json()["checks"][service]["restarts"]


@pytest.mark.slow
@pytest.mark.parametrize("service", ("store", "kv", "fs"))
def test_acknowledged_writes_survive_a_kill_9_of_a_containers_gunicorn_master(compose_stack, figures, service):
    stack = compose_stack
    before = restarts(stack, service)
    with WriteLoad(stack.url) as load:
        wait_until(lambda: load.acknowledged_count(service) >= 30, 60, "writes acknowledged before the kill")
        killed_at = time.monotonic()
        old_pid = stack.crash(service)
        wait_until(lambda: stack.container_pid(service) not in (0, old_pid), 60, f"Docker to restart {service}")
        stack.wait_routes(service)
        restart_seconds = time.monotonic() - killed_at
        after = load.acknowledged_count(service)
        wait_until(lambda: load.acknowledged_count(service) >= after + 30, 60, "writes acknowledged after the restart")
    checks = load.check()
    for check in checks:
        figures.append(f"compose kill -9 {service:<5}: {check.family:<5} {check.checked:>4} acknowledged writes "
                       f"checked, {check.lost} lost, {check.duplicated} duplicated")
    figures.append(f"compose kill -9 {service:<5}: routed again in {restart_seconds:.2f} s; "
                   f"{load.failures()} requests failed meanwhile")
    assert [(c.family, c.lost, c.duplicated) for c in checks] == [(c.family, 0, 0) for c in checks]
    # each diagnostic worker answers from its own last round (up to two rounds old, see the README):
    # the restart shows once every worker has checked again
    wait_until(lambda: restarts(stack, service) == before + 1, 30, f"/diagnostic to count {service}'s restart")
