"""Depth bombs and huge bodies on every JSON-taking route answer 400 or 413 in the one error
shape, never a 500, and store nothing."""
from __future__ import annotations

import uuid

import pytest
import requests

JSON_ROUTES = [
    ("PUT", "/kv/{u}", "application/json"),
    ("POST", "/kv/{u}", "application/json"),
    ("POST", "/store/{u}", "application/json"),
    ("PUT", "/store/{u}/1", "application/json"),
    ("POST", "/store/{u}/1", "application/json"),
    ("PATCH", "/store/{u}/1", "application/merge-patch+json"),
    ("PATCH", "/store/{u}/1", "application/json"),
    ("POST", "/render/hello.json", "application/json"),
    ("POST", "/message/local_publish", "application/json"),
]
DEPTHS = [980, 10_000, 100_000]


def route_id(route) -> str:
    return f"{route[0]} {route[1].split('{')[0]} {route[2]}"


def bomb(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def assert_refused(response, statuses=(400,)) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    body = response.json()
    assert body["status"] == response.status_code and body["eid"]


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("route", JSON_ROUTES, ids=route_id)
def test_depth_bomb_answers_400_bad_json(integrity_stack, route, depth, kind):
    method, path, content_type = route
    unique = uuid.uuid4().hex[:10]
    url = integrity_stack.url + path.format(u=unique)
    response = requests.request(method, url, data=bomb(depth, kind), headers={"Content-Type": content_type})
    assert_refused(response)
    assert response.json()["code"] == "bad_json" and "MAX_JSON_DEPTH" in response.json()["message"]
    if path.startswith("/kv"):
        assert requests.get(url).status_code == 404
    if path.startswith("/store"):
        assert requests.get(f"{integrity_stack.url}/store/{unique}").json() == []


@pytest.mark.parametrize("route", JSON_ROUTES, ids=route_id)
def test_body_over_max_body_size_answers_413(integrity_stack, route):
    method, path, content_type = route
    url = integrity_stack.url + path.format(u=uuid.uuid4().hex[:10])
    huge = b'{"a":"' + b"x" * (2 * 1024 * 1024) + b'"}'  # the stacks run with MAX_BODY_SIZE=1m
    response = requests.request(method, url, data=huge, headers={"Content-Type": content_type})
    assert_refused(response, (413,))
