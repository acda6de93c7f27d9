"""hipflask.json_depth: JSON nested deeper than MAX_JSON_DEPTH is a 400 bad_json, never a RecursionError."""
import pytest
from flask import Blueprint

from hipflask.convert import json_body
from hipflask.json_depth import TooDeep, check_depth, loads
from hipflask.jsonp import make_my_response_json

blueprint = Blueprint("unit_json_depth", __name__)


@blueprint.post("/json")
@make_my_response_json
def echo():
    return {"body": json_body()}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("text, depth", [("[]", 1), ("{}", 1), ('[{"a": [1]}]', 3)])
def test_depth_is_counted_in_containers(text, depth):
    assert loads(text, depth) is not None
    with pytest.raises(TooDeep):
        loads(text, depth - 1)


@pytest.mark.parametrize("depth", [980, 10_000, 100_000])
def test_deep_nesting_raises_too_deep(depth):
    with pytest.raises(TooDeep) as raised:
        loads(nested(depth), 64)
    assert raised.value.status == 400 and raised.value.code == "bad_json"
    assert "64" in raised.value.message and "MAX_JSON_DEPTH" in raised.value.message


def test_check_depth_walks_without_recursion():
    value = []
    for _ in range(50_000):
        value = [value]
    with pytest.raises(TooDeep):
        check_depth(value, 100)


@pytest.mark.parametrize("depth", [980, 100_000])
def test_json_body_too_deep_answers_400_naming_the_limit(make_app, depth):
    client = make_app(blueprint, MAX_JSON_DEPTH=32).test_client()
    response = client.post("/json", data=nested(depth), content_type="application/json")
    assert response.status_code == 400
    assert response.json["code"] == "bad_json" and "32" in response.json["message"]


def test_json_body_at_the_limit_is_accepted(make_app):
    client = make_app(blueprint, MAX_JSON_DEPTH=32).test_client()
    response = client.post("/json", data=nested(32), content_type="application/json")
    assert response.status_code == 200
