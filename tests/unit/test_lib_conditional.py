"""hipflask.conditional: If-Match / If-None-Match parsed one way, one 412, one ETag setter, the 304."""
from datetime import UTC, datetime

import pytest
from flask import Blueprint, Response, jsonify

from hipflask import conditional
from hipflask.conditional import ANY, PreconditionFailed, check
from support import assert_error

blueprint = Blueprint("unit_conditional", __name__)
MODIFIED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _tags(value):
    return None if value is None else sorted(value)


@blueprint.get("/conditions")
def conditions():
    return jsonify(if_match=_tags(conditional.if_match()), if_none_match=_tags(conditional.if_none_match()))


@blueprint.get("/resource")
def resource():
    if conditional.is_current("v1", MODIFIED):
        return conditional.not_modified("v1", {"Last-Modified": "Wed, 01 May 2024 12:00:00 GMT"})
    return conditional.set_etag(Response("body"), "v1")


@blueprint.put("/resource")
def write():
    check("v1", conditional.if_match(), conditional.if_none_match(), what="the resource")
    return conditional.set_etag(Response("written"), "v2")


@pytest.fixture
def client(make_app):
    return make_app(blueprint).test_client()


def test_absent_headers_are_no_condition(client):
    assert client.get("/conditions").get_json() == {"if_match": None, "if_none_match": None}


def test_star_is_any(client):
    body = client.get("/conditions", headers={"If-Match": "*", "If-None-Match": "*"}).get_json()
    assert body == {"if_match": ["*"], "if_none_match": ["*"]}


def test_if_match_keeps_strong_etags_only_and_if_none_match_weak_ones_too(client):
    headers = {"If-Match": '"a", W/"b"', "If-None-Match": '"a", W/"b"'}
    assert client.get("/conditions", headers=headers).get_json() == {"if_match": ["a"], "if_none_match": ["a", "b"]}


def test_unquoted_etags_are_accepted(client):
    assert client.get("/conditions", headers={"If-Match": "abc"}).get_json()["if_match"] == ["abc"]


def test_a_blank_if_match_matches_no_etag(client):
    assert client.get("/conditions", headers={"If-Match": ""}).get_json()["if_match"] == []
    assert client.put("/resource", headers={"If-Match": ""}).status_code == 412


def test_set_etag_quotes_the_etag(client):
    assert client.get("/resource").headers["ETag"] == '"v1"'


def test_current_etag_answers_304_with_the_etag_and_no_body(client):
    response = client.get("/resource", headers={"If-None-Match": '"v1"'})
    assert (response.status_code, response.data) == (304, b"")
    assert response.headers["ETag"] == '"v1"'
    assert response.headers["Cache-Control"] == "no-cache"


def test_weak_form_of_the_current_etag_answers_304(client):
    assert client.get("/resource", headers={"If-None-Match": 'W/"v1"'}).status_code == 304


def test_other_etag_answers_the_resource(client):
    assert client.get("/resource", headers={"If-None-Match": '"v0"'}).data == b"body"


def test_if_modified_since_not_before_the_change_answers_304(client):
    assert client.get("/resource", headers={"If-Modified-Since": "Wed, 01 May 2024 12:00:00 GMT"}).status_code == 304
    assert client.get("/resource", headers={"If-Modified-Since": "Wed, 01 May 2024 11:59:59 GMT"}).status_code == 200


def test_stale_if_match_answers_the_one_412(client):
    response = client.put("/resource", headers={"If-Match": '"v0"'})
    assert_error(response, 412, "precondition_failed")


def test_matching_if_match_passes(client):
    assert client.put("/resource", headers={"If-Match": '"v1"'}).status_code == 200


def test_if_none_match_star_refuses_an_existing_resource(client):
    assert client.put("/resource", headers={"If-None-Match": "*"}).status_code == 412


def test_check_refuses_if_match_on_nothing_stored():
    with pytest.raises(PreconditionFailed, match="does not exist"):
        check(None, ANY, what="the key")


def test_check_lets_if_none_match_star_write_when_nothing_is_stored():
    check(None, None, ANY)
    check("v1", None, {"other"})
