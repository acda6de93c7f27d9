"""hipflask.jsonp: make_my_response_json as the original had it, and safe JSONP."""
from collections import Counter

import pytest
from flask import Blueprint, Response

from hipflask.jsonp import dumps, make_my_response_json, wrap

ERROR_KEYS = {"status", "code", "message", "eid"}
calls = Counter()
blueprint = Blueprint("unit_jsonp", __name__)


@blueprint.get("/dict")
@make_my_response_json
def a_dict():
    calls["dict"] += 1
    return {"b": 1, "a": "x"}


@blueprint.get("/status-key")
@make_my_response_json
def status_key():
    return {"id": 7, "status_code": 201}


@blueprint.get("/missing")
@make_my_response_json
def missing():
    return {"status_code": 404}


@blueprint.get("/list")
@make_my_response_json
def a_list():
    return [1, "two", None]


@blueprint.get("/int")
@make_my_response_json
def an_int():
    return 404


@blueprint.get("/int-ok")
@make_my_response_json
def an_ok_int():
    return 200


@blueprint.get("/str")
@make_my_response_json
def a_str():
    return '{"raw": [1, 2]}'


@blueprint.get("/none")
@make_my_response_json
def none():
    return None


@blueprint.get("/tuple")
@make_my_response_json
def a_tuple():
    return {"a": 1}, 202, {"X-Extra": "yes"}


@blueprint.get("/response")
@make_my_response_json
def a_response():
    return Response("plain text", mimetype="text/plain")


@blueprint.route("/form", methods=["POST"])
@make_my_response_json
def form():
    return {"posted": True}


@pytest.fixture
def client(make_app):
    calls.clear()
    return make_app(blueprint).test_client()


def test_dict_becomes_a_json_object_in_the_view_key_order(client):
    response = client.get("/dict")
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == '{"b":1,"a":"x"}'


def test_json_response_has_json_content_type_and_no_cache(client):
    response = client.get("/dict")
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-cache"


def test_status_code_key_sets_the_status_and_is_removed_from_the_body(client):
    response = client.get("/status-key")
    assert response.status_code == 201
    assert response.get_json() == {"id": 7}


def test_list_becomes_a_json_array(client):
    assert client.get("/list").get_json() == [1, "two", None]


def test_int_is_a_status_code_with_an_empty_object(client):
    response = client.get("/int")
    assert response.status_code == 404
    assert response.get_json() == {}


def test_int_200_is_an_empty_object(client):
    response = client.get("/int-ok")
    assert response.status_code == 200
    assert response.get_json() == {}


def test_str_is_taken_as_json_text(client):
    response = client.get("/str")
    assert response.mimetype == "application/json"
    assert response.get_json() == {"raw": [1, 2]}


def test_none_gives_an_empty_object(client):
    response = client.get("/none")
    assert response.status_code == 200
    assert response.get_json() == {}


def test_tuple_sets_status_and_headers(client):
    response = client.get("/tuple")
    assert response.status_code == 202
    assert response.headers["X-Extra"] == "yes"
    assert response.get_json() == {"a": 1}


def test_response_from_the_view_is_sent_as_is(client):
    response = client.get("/response")
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "plain text"


def test_callback_turns_the_response_into_exactly_cb_json_semicolon(client):
    response = client.get("/dict?callback=cb")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == 'cb({"b":1,"a":"x"});'


def test_jsonp_response_is_application_javascript_without_cache(client):
    response = client.get("/dict?callback=cb")
    assert response.mimetype == "application/javascript"
    assert response.headers["Cache-Control"] == "no-cache"


def test_jsonp_of_a_list_and_of_str_json_text(client):
    assert client.get("/list?callback=cb").get_data(as_text=True) == 'cb([1,"two",null]);'
    assert client.get("/str?callback=cb").get_data(as_text=True) == 'cb({"raw": [1, 2]});'


def test_404_becomes_200_under_jsonp(client):
    response = client.get("/missing?callback=cb")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "cb({});"


def test_int_404_becomes_200_under_jsonp(client):
    response = client.get("/int?callback=cb")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "cb({});"


def test_404_stays_404_without_a_callback(client):
    assert client.get("/missing").status_code == 404


def test_other_statuses_are_kept_under_jsonp(client):
    response = client.get("/status-key?callback=cb")
    assert response.status_code == 201
    assert response.get_data(as_text=True) == 'cb({"id":7});'


def test_jsonp_keeps_the_headers_of_a_tuple(client):
    response = client.get("/tuple?callback=cb")
    assert response.status_code == 202
    assert response.headers["X-Extra"] == "yes"


@pytest.mark.parametrize("callback", ["a.b$c", "$", "_private", "jQuery331_1700000000", "ns.sub.fn"])
def test_identifier_path_callbacks_are_allowed(client, callback):
    response = client.get("/dict", query_string={"callback": callback})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == callback + '({"b":1,"a":"x"});'


@pytest.mark.parametrize("callback", [
    "alert(1)", "a;b", "<script>", "x" * 200, "1abc", "a..b", "a.", ".a", "a-b", "cb\n",
    "cb//", "caf\u00e9",
])
def test_unsafe_callback_answers_400_in_the_json_error_shape(client, callback):
    response = client.get("/dict", query_string={"callback": callback})
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == "bad_callback"


@pytest.mark.parametrize("callback", ["alert(1)", "a;b", "<script>", "y" * 200])
def test_unsafe_callback_is_never_echoed(client, callback):
    response = client.get("/dict", query_string={"callback": callback})
    assert callback not in response.get_data(as_text=True)
    assert all(callback not in value for value in response.headers.values())


def test_unsafe_callback_is_refused_before_the_view_runs(client):
    client.get("/dict", query_string={"callback": "alert(1)"})
    assert calls["dict"] == 0


def test_callback_of_128_characters_is_allowed(client):
    callback = "c" * 128
    assert client.get("/dict", query_string={"callback": callback}).status_code == 200


def test_callback_from_a_posted_form(client):
    response = client.post("/form", data={"callback": "cb"})
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == 'cb({"posted":true});'


def test_unsafe_callback_from_a_posted_form_answers_400(client):
    response = client.post("/form", data={"callback": "alert(1)"})
    assert response.status_code == 400
    assert "alert(1)" not in response.get_data(as_text=True)


def test_callback_is_not_read_from_a_json_body(client):
    response = client.post("/form", json={"callback": "cb"})
    assert response.mimetype == "application/json"
    assert response.get_json() == {"posted": True}


def test_wrap_strips_the_json_text_and_turns_404_into_200(make_app):
    with make_app().test_request_context("/"):
        response = wrap("cb", b'  {"a": 1}\n', 404)
        assert response.status_code == 200
        assert response.get_data(as_text=True) == 'cb({"a": 1});'


def test_dumps_is_compact_in_the_given_key_order(make_app):
    with make_app().app_context():
        assert dumps({"z": 1, "a": [1, 2]}) == '{"z":1,"a":[1,2]}'
