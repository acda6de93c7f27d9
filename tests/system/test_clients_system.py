"""Real clients nobody here wrote, through the gateway: curl -T, rclone, wget -r, react-admin."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from support import missing

TIMEOUT = 60
CLIENTS = Path(__file__).resolve().parent / "clients"


def need(binary: str) -> str:
    path = shutil.which(binary)
    if not path:
        missing(f"{binary} is not installed (scripts/setup.sh --test installs it)")
    return path


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([need("curl"), "-sS", *args], capture_output=True, text=True, timeout=TIMEOUT)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def partition():
    return f"clients-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"hello from curl -T\n")
    (folder / "data.bin").write_bytes(os.urandom(700_000))
    return folder


def test_curl_upload_to_a_partition_url_answers_the_download_url(gateway, partition, files):
    result = curl("-T", str(files / "notes.txt"), f"{gateway}/{partition}/")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{gateway}/{partition}/notes.txt\n"
    assert requests.get(result.stdout.strip(), timeout=TIMEOUT).content == (files / "notes.txt").read_bytes()


def test_curl_upload_to_a_named_url_stores_it_under_that_name(gateway, partition, files):
    result = curl("-T", str(files / "data.bin"), f"{gateway}/{partition}/renamed.bin")
    assert result.stdout == f"{gateway}/{partition}/renamed.bin\n"
    download = requests.get(f"{gateway}/{partition}/renamed.bin", timeout=TIMEOUT)
    assert hashlib.sha256(download.content).hexdigest() == sha256(files / "data.bin")


def test_curl_upload_of_an_existing_name_is_409_and_keeps_the_first(gateway, partition, files):
    curl("-T", str(files / "notes.txt"), f"{gateway}/{partition}/")
    result = curl("-T", str(files / "data.bin"), "-w", "%{http_code}", "-o", os.devnull,
                  f"{gateway}/{partition}/notes.txt")
    assert result.stdout == "409"
    assert requests.get(f"{gateway}/{partition}/notes.txt", timeout=TIMEOUT).content == b"hello from curl -T\n"


def upload_all(gateway: str, partition: str, folder: Path) -> None:
    for path in sorted(folder.iterdir()):
        assert curl("-fT", str(path), f"{gateway}/{partition}/").returncode == 0


def test_rclone_copies_a_partition_with_the_right_names_and_bytes(gateway, partition, files, tmp_path):
    rclone = need("rclone")
    upload_all(gateway, partition, files)
    target = tmp_path / "rclone"
    result = subprocess.run([rclone, "copy", "--config", os.devnull, "--http-url", f"{gateway}/{partition}/",
                             ":http:", str(target)], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert {p.name: sha256(p) for p in target.iterdir()} == {p.name: sha256(p) for p in files.iterdir()}


def test_wget_mirrors_a_partition_below_its_listing(gateway, partition, files, tmp_path):
    wget = need("wget")
    upload_all(gateway, partition, files)
    target = tmp_path / "wget"
    result = subprocess.run([wget, "-q", "-r", "-np", "-nH", "-R", "index.html*", "-P", str(target),
                             f"{gateway}/{partition}/"], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    mirrored = {p.name: sha256(p) for p in (target / partition).iterdir()}
    assert mirrored == {p.name: sha256(p) for p in files.iterdir()}


def test_react_admin_json_server_provider_lists_filters_sorts_and_pages(gateway):
    node = need("node")
    if not (CLIENTS / "node_modules" / "ra-data-json-server").is_dir():
        missing("the npm clients are not installed (scripts/setup.sh --test runs npm ci)")
    result = subprocess.run([node, "react_admin.mjs", gateway, f"ra-{uuid.uuid4().hex[:12]}", "posts"],
                            cwd=CLIENTS, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    first, second, third, fourth = got["created"]

    def listed(name):
        return [record["id"] for record in got[name]["data"]], got[name]["total"]

    assert listed("gte") == ([second, third, fourth], 3)
    assert listed("q") == ([second], 1)
    assert listed("sorted") == ([fourth, third, second, first], 4)
    assert listed("page2") == ([fourth], 4)
    assert listed("combined") == ([second], 2)  # views 30 and 50, by title: "Second post" < "third"
    assert got["one"]["title"] == "first post"
    assert [record["id"] for record in got["many"]] == [first, third]
    assert got["updated"]["views"] == 31
    assert [record["id"] for record in got["afterDelete"]["data"]] == [first, second, third]
