"""hipflask.convert: request data converted as the original converted it."""
import math

import pytest
from flask import Blueprint
from werkzeug.datastructures import MultiDict

from hipflask.convert import convert_multidict, convert_value, form_data, json_body, request_data
from hipflask.jsonp import make_my_response_json
from support import assert_error

blueprint = Blueprint("unit_convert", __name__)


@blueprint.route("/form", methods=["GET", "POST"])
@make_my_response_json
def form():
    return form_data()


@blueprint.route("/form-without", methods=["GET", "POST"])
@make_my_response_json
def form_without():
    return form_data(exclude=("callback", "skip"))


@blueprint.route("/data", methods=["GET", "POST"])
@make_my_response_json
def data():
    return {"data": request_data()}


@blueprint.post("/json")
@make_my_response_json
def any_json():
    return {"body": json_body()}


@blueprint.post("/json-object")
@make_my_response_json
def json_object():
    return {"body": json_body(dict)}


@blueprint.post("/json-list")
@make_my_response_json
def json_list():
    return {"body": json_body(list)}


@pytest.fixture
def client(make_app):
    return make_app(blueprint).test_client()


@pytest.mark.parametrize("text, number", [("0", 0), ("-3", -3), ("42", 42), ("007", 7), ("-0", 0)])
def test_integer_strings_become_int(text, number):
    value = convert_value(text)
    assert value == number
    assert type(value) is int


@pytest.mark.parametrize("text, number", [("1.5", 1.5), ("-2.25", -2.25), ("1e3", 1000.0), ("1.", 1.0),
                                          (".5", 0.5), ("2.5E-1", 0.25)])
def test_decimal_strings_become_float(text, number):
    value = convert_value(text)
    assert value == number
    assert type(value) is float


@pytest.mark.parametrize("text", ["abc", "", " 1", "1 ", "+1", "1_000", "0x10", "1,5", "1.2.3", "e3", "-"])
def test_other_strings_stay_strings(text):
    assert convert_value(text) == text


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity", "nan", "NaN", "1e999", "-1e999"])
def test_infinities_and_nan_stay_strings(text):
    assert convert_value(text) == text


def test_converted_floats_are_always_finite():
    assert math.isfinite(convert_value("9" * 300 + ".5"))


def test_very_long_digit_string_does_not_raise():
    text = "9" * 5000
    assert convert_value(text) == text


def test_very_long_digit_parameter_is_not_a_server_error(client):
    assert client.get("/form", query_string={"n": "9" * 5000}).status_code < 500


def test_single_element_list_is_flattened():
    assert convert_value(["5"]) == 5


def test_multi_element_list_is_kept_and_converted():
    assert convert_value(["1", "x", "2.5"]) == [1, "x", 2.5]


def test_empty_list_stays_an_empty_list():
    assert convert_value([]) == []


def test_nested_dicts_and_lists_are_converted():
    value = {"a": "1", "b": {"c": ["2", "3"], "d": ["x"]}, "e": [{"f": "0"}, "g"]}
    assert convert_value(value) == {"a": 1, "b": {"c": [2, 3], "d": "x"}, "e": [{"f": 0}, "g"]}


@pytest.mark.parametrize("value", [None, True, 3, 2.5])
def test_non_strings_pass_through(value):
    assert convert_value(value) is value


def test_multidict_values_are_converted_and_flattened():
    data = MultiDict([("n", "1"), ("tag", "a"), ("tag", "2"), ("name", "pants")])
    assert convert_multidict(data) == {"n": 1, "tag": ["a", 2], "name": "pants"}


def test_form_data_converts_query_values(client):
    assert client.get("/form?number=1&name=pants&price=2.5").get_json() == \
        {"number": 1, "name": "pants", "price": 2.5}


def test_form_data_merges_query_and_form(client):
    response = client.post("/form?from_query=1", data={"from_form": "2"})
    assert response.get_json() == {"from_query": 1, "from_form": 2}


def test_form_data_prefers_the_form_on_a_shared_key(client):
    assert client.post("/form?k=query", data={"k": "form"}).get_json() == {"k": "form"}


def test_form_data_keeps_repeated_values_as_a_list(client):
    assert client.get("/form?t=1&t=2").get_json() == {"t": [1, 2]}


def test_form_data_leaves_out_the_excluded_parameters_from_query_and_form(client):
    response = client.post("/form-without?skip=1&keep=2&callback=cb", data={"skip": "3", "also": "4"})
    assert response.get_data(as_text=True) == 'cb({"keep":2,"also":4});'


def test_request_data_is_the_json_body_when_the_request_is_json(client):
    assert client.post("/data", json={"n": "3", "m": [1]}).get_json() == {"data": {"n": "3", "m": [1]}}


def test_request_data_is_the_converted_form_otherwise(client):
    assert client.post("/data", data={"n": "3"}).get_json() == {"data": {"n": 3}}


def test_json_body_returns_the_parsed_body(client):
    assert client.post("/json", json=[1, {"a": None}]).get_json() == {"body": [1, {"a": None}]}


def test_json_body_of_an_empty_body_is_none(client):
    assert client.post("/json", data=b"", content_type="application/json").get_json() == {"body": None}


def test_json_body_of_literal_null_is_none(client):
    assert client.post("/json", data=b"null", content_type="application/json").get_json() == {"body": None}


@pytest.mark.parametrize("raw", [b"{", b"{'a': 1}", b"[1,]", b"   ", b"\xff\xfe", b"NaN x"])
def test_malformed_json_body_answers_400_bad_json(client, raw):
    response = client.post("/json", data=raw, content_type="application/json")
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"status", "code", "message", "eid"}
    assert body["code"] == "bad_json"


def test_json_body_of_the_wrong_type_answers_400_naming_the_type(client):
    response = client.post("/json-object", json=[1, 2])
    assert_error(response, 400, "bad_json")
    assert "object" in response.get_json()["message"]


def test_json_body_of_null_when_an_object_is_required_answers_400(client):
    assert client.post("/json-object", data=b"null", content_type="application/json").status_code == 400


def test_json_body_when_a_list_is_required_accepts_a_list(client):
    assert client.post("/json-list", json=["a"]).get_json() == {"body": ["a"]}


def test_json_body_when_a_list_is_required_refuses_an_object(client):
    response = client.post("/json-list", json={"a": 1})
    assert response.status_code == 400
    assert "list" in response.get_json()["message"]
