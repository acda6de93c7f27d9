"""The system tier's stacks: every test talks HTTP to the gateway only.

`stack` is parametrized, so every system test runs once against the native stack and once against
compose (tests/stacks.py).
"""
from __future__ import annotations

import os

import pytest

from stacks import ComposeStack, NativeStack
from support import missing


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


# ---- a real browser: Debian's headless Chromium driven by Playwright --------------------------------
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (requirements-dev.txt)")
    if not os.path.exists(CHROMIUM):
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()
