"""The uploader's pages in a real browser: headless Chromium (Debian's) driven by Playwright."""
from __future__ import annotations

import hashlib
import os
import uuid

import pytest

pytestmark = pytest.mark.browser


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
