"""The system tier's stacks: every test talks HTTP to the gateway only.

`stack` is parametrized, so every system test runs once against the native stack and once against
compose (tests/stacks.py).
"""
from __future__ import annotations

import os

import pytest

from stacks import ComposeStack, NativeStack
from support import ROTATED_AUTH_KEYS, free_port, missing

# The token-mode stack (one per kind, shared by the security tests): two keys (rotation), two
# public namespaces, CORS for the browser tests' allowed origin, a rate limit that ordinary tests
# stay under, and the test client's own addresses as trusted proxies (X-Forwarded-For then names
# the client, so a test can be a client of its own).
TRUSTED_TEST_PROXIES = "127.0.0.1,172.16.0.0/12,192.168.0.0/16,10.0.0.0/8"


def token_stack_env(allowed_origin: str) -> dict[str, str]:
    return {
        "AUTH_MODE": "token",
        "AUTH_KEYS": ROTATED_AUTH_KEYS,
        "AUTH_PUBLIC": "guestbook:write,docs:read",
        "CORS_ORIGINS": allowed_origin,
        "RATE_LIMIT": "100r/s",
        "RATE_LIMIT_BURST": "200",
        "UPLOAD_CONNECTIONS": "8",
        "TRUSTED_PROXIES": TRUSTED_TEST_PROXIES,
    }


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


@pytest.fixture(scope="session")
def origins():
    """Two local origins for browser pages: `allowed` is in the token stack's CORS_ORIGINS, `refused` is not."""
    return {name: f"http://127.0.0.1:{free_port()}" for name in ("allowed", "refused")}


@pytest.fixture(scope="session", params=["native", "compose"])
def token_stack(request, origins):
    """The stack in AUTH_MODE=token (see token_stack_env), started once per kind."""
    env = token_stack_env(origins["allowed"])
    with (NativeStack(env) if request.param == "native" else ComposeStack(env, name="-token")) as running:
        yield running


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's) driven by Playwright."""
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
