"""The uploader's pages in a real browser: headless Chromium (Debian's) driven by Playwright."""
from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from support import missing

pytestmark = pytest.mark.browser

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


@pytest.fixture
def partition():
    return f"b{uuid.uuid4().hex[:12]}"


def upload_with_the_form(page, gateway, partition, path):
    page.goto(f"{gateway}/{partition}")
    page.set_input_files("input[type=file][name=file]", str(path))
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_upload_with_the_form_see_it_listed_and_download_it(gateway, page, partition, tmp_path):
    data = os.urandom(700_000)
    source = tmp_path / "save game.bin"
    source.write_bytes(data)

    upload_with_the_form(page, gateway, partition, source)
    assert page.locator("h1").inner_text() == f"Files in {partition}"
    link = page.locator("a.file", has_text="save_game.bin")
    assert link.count() == 1

    with page.expect_download() as pending:
        link.click()
    download = pending.value
    assert download.failure() is None
    assert download.suggested_filename == "save_game.bin"
    with open(download.path(), "rb") as saved:
        assert hashlib.sha256(saved.read()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_the_listing_page_links_download_the_file(gateway, page, partition, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_bytes(b"some notes\n")
    upload_with_the_form(page, gateway, partition, source)

    page.goto(f"{gateway}/list/{partition}")
    assert partition in page.locator("h1").inner_text()
    with page.expect_download() as pending:
        page.locator("a.file", has_text="notes.txt").click()
    with open(pending.value.path(), "rb") as saved:
        assert saved.read() == b"some notes\n"


def test_uploading_the_same_name_twice_shows_that_it_exists(gateway, page, partition, tmp_path):
    source = tmp_path / "twice.txt"
    source.write_bytes(b"first")
    upload_with_the_form(page, gateway, partition, source)
    source.write_bytes(b"second")
    upload_with_the_form(page, gateway, partition, source)
    assert "twice.txt already exists" in page.locator("h1").inner_text()


def test_an_empty_partition_listing_links_to_the_form(gateway, page, partition):
    page.goto(f"{gateway}/list/{partition}")
    assert "No files" in page.content()
    page.click(f"text=Upload a file to {partition}")
    assert page.locator("input[type=file][name=file]").count() == 1
