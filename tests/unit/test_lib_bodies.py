"""hipflask.bodies: a request body that ends before its declared length is an error, never data."""
import io

import pytest
from flask import Blueprint, request

from hipflask.bodies import IncompleteBody, WholeBody
from hipflask.convert import json_body
from hipflask.jsonp import make_my_response_json

blueprint = Blueprint("unit_bodies", __name__)
stored = []


@blueprint.post("/raw")
@make_my_response_json
def raw():
    stored.append(request.get_data())
    return {"size": len(stored[-1])}


@blueprint.post("/json")
@make_my_response_json
def json_value():
    stored.append(json_body())
    return {}


class CutOff(io.BytesIO):
    """A body stream that stops early, as gunicorn's Content-Length reader does on a disconnect."""


class Broken:
    """A chunked body broken off, as gunicorn's chunked reader reports it (NoMoreData is an OSError)."""

    def read(self, size=-1):
        raise OSError("no more data")


@pytest.fixture
def client(make_app):
    stored.clear()
    return make_app(blueprint).test_client()


def cut_environ(body: bytes, declared: int) -> dict:
    return {"wsgi.input": CutOff(body), "CONTENT_LENGTH": str(declared), "wsgi.input_terminated": True}


def test_short_raw_body_answers_400_incomplete_body_and_reaches_no_view_result(client):
    response = client.post("/raw", environ_overrides=cut_environ(b"x" * 1000, 5000),
                           content_type="application/octet-stream")
    assert response.status_code == 400
    assert response.json["code"] == "incomplete_body"
    assert "1000" in response.json["message"] and "5000" in response.json["message"]
    assert stored == []


def test_short_json_body_answers_incomplete_body_not_bad_json(client):
    response = client.post("/json", environ_overrides=cut_environ(b'{"a": 1', 20), content_type="application/json")
    assert response.json["code"] == "incomplete_body"
    assert stored == []


def test_whole_body_is_read_as_sent(client):
    response = client.post("/raw", data=b"y" * 3000, content_type="application/octet-stream")
    assert response.status_code == 200
    assert response.json == {"size": 3000}


def test_broken_chunked_stream_raises_incomplete_body():
    body = WholeBody(Broken(), None, "POST /x")
    with pytest.raises(IncompleteBody):
        body.read(10)


def test_reading_to_the_end_short_of_the_declared_length_raises():
    body = WholeBody(io.BytesIO(b"abc"), 10, "PUT /x")
    with pytest.raises(IncompleteBody):
        body.read()


def test_reading_exactly_the_declared_length_then_the_end_is_fine():
    body = WholeBody(io.BytesIO(b"abcdef"), 6, "PUT /x")
    assert body.read(4) + body.read(4) + body.read(4) == b"abcdef"
