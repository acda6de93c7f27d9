"""The status page in headless Chromium: every service and replica, charts, a strict CSP that the
page itself keeps, and a stopped service shown as failed within one refresh."""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FAMILIES = ("diagnostic", "store", "kv", "fs", "render", "redis")
# one refresh of the page, plus the diagnostic round it may wait for (cache, check timeout)
ONE_REFRESH_MS = (3 + 1 + 1) * 1000 + 2000


def open_status_page(page, gateway):
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(f"{gateway}/diagnostic")
    page.wait_for_function("() => document.querySelectorAll('#services tbody tr').length >= 6")
    return problems


def test_status_page_shows_every_service_and_keeps_its_csp(gateway, page, stack):
    problems = open_status_page(page, gateway)
    services = set(page.eval_on_selector_all("#services tbody tr", "rows => rows.map(r => r.dataset.service)"))
    assert services >= set(FAMILIES)
    assert page.inner_text("#overall") in ("pass", "warn")
    page.wait_for_selector("#charts figure canvas", timeout=ONE_REFRESH_MS * 2)
    page.wait_for_function("() => [...document.querySelectorAll('#charts figure')].every(f => f.dataset.points >= 3)",
                           timeout=ONE_REFRESH_MS * 4)  # a few refreshes: the charts have lines to show
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"status-page-{stack.kind}.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"status page screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000
    assert problems == []  # no CSP violation, no script error


def test_a_stopped_service_shows_as_failed_within_one_refresh(gateway, page, stack):
    open_status_page(page, gateway)
    page.wait_for_selector('#services tr[data-service="kv"][data-status="pass"]')
    stack.kill("kv")
    try:
        page.wait_for_selector('#services tr[data-service="kv"][data-status="fail"]', timeout=ONE_REFRESH_MS)
        assert page.inner_text("#overall") == "fail"
        assert page.inner_text('#services tr[data-service="kv"] .output')  # the error is shown
    finally:
        stack.start("kv")
    page.wait_for_selector('#services tr[data-service="kv"][data-status="pass"]', timeout=ONE_REFRESH_MS * 3)
