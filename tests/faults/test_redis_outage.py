"""Redis stopped (SIGSTOP) and killed under load: no request fails, and it recovers by itself.

The response cache and the events fail open (hipflask.backplane), so while Redis does not answer
every read and write still succeeds; once it is back (SIGCONT, or the supervisor's restart after
kill -9) events flow again without anyone restarting a service.
"""
from __future__ import annotations

import os
import signal
import time

import pytest
import redis
import requests

from load import WriteLoad
from support import wait_until

OUTAGE_SECONDS = 3.0


def events_flow(native_stack, load: WriteLoad) -> bool:
    """A write made now reaches the event stream."""
    client = redis.Redis(port=native_stack.redis_port, socket_timeout=1)
    try:
        before = client.xlen("hipflask:events")
        load.write_kv(requests.Session(), f"{load.tag}-event-probe-{time.monotonic_ns()}")
        return client.xlen("hipflask:events") > before
    finally:
        client.close()


def outage(native_stack, figures, what: str, hurt, heal) -> None:
    with WriteLoad(native_stack.url) as load:
        wait_until(lambda: load.acknowledged_count() >= 30, 60, "writes acknowledged before the outage")
        during = load.acknowledged_count()
        hurt()
        deadline = time.monotonic() + OUTAGE_SECONDS
        wait_until(lambda: time.monotonic() > deadline, OUTAGE_SECONDS + 1, "the outage to last")
        served = load.acknowledged_count() - during
        heal()
        wait_until(lambda: events_flow(native_stack, load), 30, "events to reach Redis again")
        native_stack.wait_healthy(30)
    checks = load.check()
    figures.append(f"redis {what:<9}: {load.failures()} failed requests, {served} writes acknowledged during "
                   f"the {OUTAGE_SECONDS:g} s outage, {sum(c.lost for c in checks)} lost")
    assert dict(load.failed) == {}
    assert served > 0
    assert [c.lost for c in checks] == [0, 0, 0]


@pytest.mark.slow
def test_a_stopped_redis_fails_no_request_and_recovers_by_itself(native_stack, figures):
    pid = native_stack.pid("redis")
    try:
        outage(native_stack, figures, "SIGSTOP", lambda: os.kill(pid, signal.SIGSTOP),
               lambda: os.kill(pid, signal.SIGCONT))
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.slow
def test_a_killed_redis_fails_no_request_and_the_supervisor_restarts_it(native_stack, figures):
    old_pid = native_stack.pid("redis")
    outage(native_stack, figures, "kill -9", lambda: os.kill(old_pid, signal.SIGKILL),
           lambda: wait_until(lambda: native_stack.back("redis", old_pid), 30, "the supervisor to restart Redis"))
