"""The fault tier: the real stacks hurt on purpose (processes killed, Redis stopped).

One stack per module: a test that kills a process waits until it is back before it ends, so the
next test starts from a whole stack. Figures (writes checked, restart times, failed requests)
are printed at the end of the run.
"""
from __future__ import annotations

import pytest
import redis

from stacks import ComposeStack, NativeStack

FAULT_ENV = {"GATEWAY_ACCESS_LOG": "off"}
FIGURES: list[str] = []
BODY_TIMEOUT_SECONDS = 3


@pytest.fixture(scope="module")
def native_stack():
    with NativeStack(FAULT_ENV) as running:
        yield running


@pytest.fixture(scope="module")
def compose_stack():
    """The compose stack, under a project name of its own (the system tier's may be up too)."""
    stack = ComposeStack(FAULT_ENV)
    stack.project += "-faults"
    with stack as running:
        yield running


@pytest.fixture(scope="session")
def integrity_stack():
    """A native stack whose gateway drops a request body idle for BODY_TIMEOUT_SECONDS, and whose
    event streams send a heartbeat only every minute (the modules about cut-off bodies, bounded
    input, slow clients and abandoned streams share it: they kill nothing)."""
    env = {**FAULT_ENV, "GATEWAY_BODY_TIMEOUT": f"{BODY_TIMEOUT_SECONDS}s", "EVENTS_HEARTBEAT_SECONDS": "60"}
    with NativeStack(env) as running:
        yield running


@pytest.fixture
def events(integrity_stack):
    """read() -> the events emitted since the test began (from the stack's Redis stream)."""
    client = redis.Redis(port=integrity_stack.redis_port)
    last = client.xrevrange("hipflask:events", count=1)
    start = last[0][0].decode() if last else "0-0"

    def read():
        return [{k.decode(): v.decode() for k, v in fields.items()}
                for _, fields in client.xrange("hipflask:events", min=f"({start}")]
    yield read
    client.close()


@pytest.fixture
def body_timeout() -> int:
    """GATEWAY_BODY_TIMEOUT of integrity_stack, in seconds."""
    return BODY_TIMEOUT_SECONDS


@pytest.fixture
def figures() -> list[str]:
    """Lines for the run's summary: what a fault cost, measured."""
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("fault figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
