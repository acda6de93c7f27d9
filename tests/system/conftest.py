"""The system tier's stacks: every test talks HTTP to the gateway only.

`stack` is parametrized, so every system test runs once against the native stack and once against
compose (tests/stacks.py).
"""
from __future__ import annotations

import pytest

from stacks import ComposeStack, NativeStack


def pytest_collection_modifyitems(config, items):
    """Tests marked compose_only run against the compose stack alone, native_only against the native one."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        kind = params.get("stack")
        only = "compose" if item.get_closest_marker("compose_only") else (
            "native" if item.get_closest_marker("native_only") else None)
        (dropped if kind and only and kind != only else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=["native", "compose"])
def stack(request):
    with (NativeStack() if request.param == "native" else ComposeStack()) as running:
        yield running


@pytest.fixture
def gateway(stack) -> str:
    return stack.url
