"""The fault tier: the real stacks hurt on purpose (processes killed, Redis stopped).

One stack per module: a test that kills a process waits until it is back before it ends, so the
next test starts from a whole stack. Figures (writes checked, restart times, failed requests)
are printed at the end of the run.
"""
from __future__ import annotations

import pytest

from stacks import ComposeStack, NativeStack

FAULT_ENV = {"GATEWAY_ACCESS_LOG": "off"}
FIGURES: list[str] = []


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


@pytest.fixture
def figures() -> list[str]:
    """Lines for the run's summary: what a fault cost, measured."""
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("fault figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
