"""The store's query language through the gateway: the README's curl examples, operators, PATCH."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from support import missing

TIMEOUT = 30
README = Path(__file__).resolve().parents[2] / "README.md"
README_HOST = "http://127.0.0.1:8080"


def readme_examples() -> list[tuple[str, str]]:
    """(command, expectation) of each line of the README's store query examples."""
    text = README.read_text()
    block = text[text.index("<!-- store-query-examples -->"):text.index("<!-- /store-query-examples -->")]
    lines = [line for line in block.splitlines() if line.startswith("curl ")]
    return [tuple(part.strip() for part in line.rsplit(" # ", 1)) for line in lines]


def check(expectation: str, body):
    if expectation.startswith("{"):
        assert body == json.loads(expectation)
        return
    if expectation.startswith("400"):
        assert (body["status"], body["code"]) == (400, expectation.split()[1])
        return
    listed = re.fullmatch(r"ids ([\d, ]+?)(?: with (\w+) (\[?[\d, ]*\]?))?", expectation)
    assert listed, f"cannot read the README's expectation {expectation!r}"
    assert [item["id"] for item in body] == [int(n) for n in listed[1].split(",")]
    if listed[2]:
        related = json.loads(listed[3])
        got = body[0][listed[2]]
        assert ([entry["id"] for entry in got] if isinstance(got, list) else got["id"]) == related


def test_the_readme_query_examples_answer_what_the_readme_says(gateway):
    if not shutil.which("curl"):
        missing("curl is not installed")
    namespace = f"readme-{uuid.uuid4().hex[:12]}"
    for command, expectation in readme_examples():
        argv = shlex.split(command.replace(README_HOST, gateway))
        result = subprocess.run([argv[0], "-sS", "-H", f"Uid: {namespace}", *argv[1:]], capture_output=True,
                                text=True, timeout=TIMEOUT)
        assert result.returncode == 0, result.stderr
        try:
            check(expectation, json.loads(result.stdout))
        except AssertionError as exc:
            raise AssertionError(f"{command}\n-> {result.stdout[:500]}") from exc


@pytest.fixture
def posts(gateway):
    headers = {"Uid": f"query-{uuid.uuid4().hex[:12]}"}
    url = f"{gateway}/store/posts"
    for views in (5, 15, "15", 25, None):
        requests.post(url, json={"views": views, "title": f"post {views}"}, headers=headers, timeout=TIMEOUT)
    return url, headers


def ids(response):
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_operators_page_and_count_through_the_gateway(posts):
    url, headers = posts
    response = requests.get(url, params={"views_gte": "10", "_limit": "1", "_sort": "-id"}, headers=headers,
                            timeout=TIMEOUT)
    assert ids(response) == [4]
    assert response.headers["X-Total-Count"] == "3"
    assert "views_gte=10" in response.headers["Link"]


def test_numbers_and_strings_compare_apart_through_the_gateway(posts):
    url, headers = posts
    assert ids(requests.get(url, params={"views:lt": "2"}, headers=headers, timeout=TIMEOUT)) == [3]  # "15" < "2"


def test_a_bad_regular_expression_is_a_400_through_the_gateway(posts):
    url, headers = posts
    response = requests.get(url, params={"title_like": "[a-"}, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 400
    assert "title_like" in response.json()["message"]


@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json"])
def test_patch_merges_with_either_json_type(posts, content_type):
    url, headers = posts
    requests.post(f"{url}/1", json={"size": {"waist": 30, "leg": 32}}, headers=headers, timeout=TIMEOUT)
    response = requests.patch(f"{url}/1", data=json.dumps({"size": {"waist": 32}, "title": None}),
                              headers={**headers, "Content-Type": content_type}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json()["size"] == {"waist": 32, "leg": 32} and "title" not in response.json()
    assert response.headers["ETag"] == requests.get(f"{url}/1", headers=headers, timeout=TIMEOUT).headers["ETag"]


def test_patch_with_another_type_is_415_listing_both(posts):
    url, headers = posts
    response = requests.patch(f"{url}/1", data="a=1", headers={**headers, "Content-Type": "text/plain"},
                              timeout=TIMEOUT)
    assert response.status_code == 415
    assert response.headers["Accept-Patch"] == "application/merge-patch+json, application/json"
