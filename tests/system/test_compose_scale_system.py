"""Scaling in the compose stack: new replicas are reached without restarting the gateway, removed
ones stop getting requests, and upstream connections are kept (gateway/upstreams.sh)."""
import threading
from collections import Counter

import pytest
import requests

from support import client_session, wait_until


def hostnames_answering(url: str, replicas: int, timeout: float = 60) -> set[str]:
    seen: set[str] = set()

    def all_answered():
        seen.add(requests.get(url, timeout=5).headers["X-HOSTNAME"])
        return len(seen) >= replicas
    wait_until(all_answered, timeout, f"{replicas} distinct X-HOSTNAME values", interval=0.05)
    return seen


def upstream_connections(stack) -> Counter:
    """The gateway's TCP connections to a service port (8000), by state (/proc/net/tcp's codes)."""
    table = stack.run("exec", "-T", "gateway", "cat", "/proc/net/tcp").stdout.splitlines()[1:]
    return Counter(fields[3] for fields in (line.split() for line in table) if fields[2].endswith(":1F40"))


@pytest.mark.compose_only
def test_scaled_diagnostic_replicas_are_both_reached(stack):
    stack.scale("diagnostic", 2)
    try:
        assert len(hostnames_answering(f"{stack.url}/hello", 2)) == 2
    finally:
        stack.scale("diagnostic", 1)


@pytest.mark.compose_only
def test_store_scaled_to_three_gets_traffic_to_every_replica_without_a_gateway_restart(stack):
    started = stack.inspect("gateway", "{{.State.StartedAt}}")
    stack.scale("store", 3)
    try:
        assert len(hostnames_answering(f"{stack.url}/store/scaled", 3)) == 3
        assert stack.inspect("gateway", "{{.State.StartedAt}}") == started
    finally:
        stack.scale("store", 1)


@pytest.mark.compose_only
def test_replicas_removed_under_load_stop_getting_requests_and_no_request_fails(stack):
    stack.scale("store", 3)
    url = f"{stack.url}/store/scaled"
    try:
        hostnames_answering(url, 3)
        answers: Counter = Counter()
        done = threading.Event()

        def load():
            # A reload closes the clients' idle keep-alive connections (README "Docker Compose"): a GET
            # that meets one is sent again, as HTTP clients do; every answer must then be a 200.
            with client_session() as session:
                while not done.is_set():
                    try:
                        answers[session.get(url, timeout=30).status_code] += 1
                    except requests.RequestException as exc:
                        answers[type(exc).__name__] += 1
        reader = threading.Thread(target=load)
        reader.start()
        try:
            stack.scale("store", 1)
            kept = stack.containers("store")
            assert len(kept) == 1

            def only_the_kept_replica_answers():
                names = {requests.get(url, timeout=5).headers["X-HOSTNAME"] for _ in range(20)}
                return names == {kept[0][:12]}
            wait_until(only_the_kept_replica_answers, 60, "requests to the remaining replica only", interval=0.2)
        finally:
            done.set()
            reader.join(60)
        assert answers[200] > 0
        assert set(answers) == {200}, answers
    finally:
        stack.scale("store", 1)


@pytest.mark.compose_only
def test_upstream_connections_are_reused_across_requests(stack):
    url = f"{stack.url}/kv/reused"
    requests.get(url, timeout=5)
    before = upstream_connections(stack)
    with requests.Session() as session:
        for _ in range(200):
            assert session.get(url, timeout=5).status_code in (200, 404)
    after = upstream_connections(stack)
    opened = sum(after.values()) - sum(before.values())
    closed_since = after["06"] - before["06"]  # TIME_WAIT: one for every connection the gateway closed
    assert opened < 10 and closed_since < 10, (before, after)
