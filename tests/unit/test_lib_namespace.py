"""hipflask.namespace: the one namespace rule (the user header made filename-safe)."""
import re

import pytest
from flask import Blueprint

from hipflask.access import namespace
from hipflask.errors import HipflaskError
from hipflask.namespace import DEFAULT, MAX_LENGTH, make_safe

SAFE = re.compile(r"[A-Za-z0-9._-]+")
blueprint = Blueprint("unit_namespace", __name__)


@blueprint.get("/ns")
def current_namespace():
    return {"namespace": namespace()}


@pytest.fixture
def client(make_app):
    return make_app(blueprint).test_client()


def test_absent_header_is_the_default_namespace(client):
    assert client.get("/ns").get_json() == {"namespace": DEFAULT}


def test_empty_header_is_the_default_namespace(client):
    assert client.get("/ns", headers={"Uid": ""}).get_json() == {"namespace": DEFAULT}


def test_plain_name_is_kept(client):
    assert client.get("/ns", headers={"Uid": "alice"}).get_json() == {"namespace": "alice"}


def test_letters_digits_dots_and_dashes_are_kept():
    assert make_safe("Alice-2.0") == "Alice-2.0"


def test_unsafe_bytes_become_underscore_and_hex():
    assert make_safe("a/b") == "a_2fb"
    assert make_safe("a b") == "a_20b"
    assert make_safe("a_b") == "a_5fb"


def test_non_ascii_is_encoded_byte_by_byte_in_utf8():
    assert make_safe("é") == "_c3_a9"


def test_mapping_is_injective_on_lookalike_names():
    names = ["a/b", "a_b", "a_2fb", "a_5fb", "a%2fb", "a b", "a.b", "a\\b", "a:b", ".a", "_2ea",
             "A", "a", "é", "_c3_a9", "..", ".", "_2e.", "_2e"]
    assert len({make_safe(name) for name in names}) == len(names)


@pytest.mark.parametrize("name", [".", "..", "...", ".hidden", "../etc", "../../x"])
def test_dot_names_are_never_returned_as_is_and_never_start_with_a_dot(name):
    safe = make_safe(name)
    assert safe not in (".", "..")
    assert not safe.startswith(".")
    assert "/" not in safe


@pytest.mark.parametrize("name", ["a/b", "../../etc/passwd", "nul\x00byte", "sp ace", "ü", "\U0001F600", "C:\\x"])
def test_result_only_holds_filename_safe_characters(name):
    assert SAFE.fullmatch(make_safe(name))


def test_header_of_max_length_is_accepted(client):
    name = "a" * MAX_LENGTH
    assert client.get("/ns", headers={"Uid": name}).get_json() == {"namespace": name}


def test_over_long_header_answers_400_in_the_error_shape(client):
    response = client.get("/ns", headers={"Uid": "a" * (MAX_LENGTH + 1)})
    assert response.status_code == 400
    body = response.get_json()
    assert (body["status"], body["code"]) == (400, "bad_namespace")


def test_over_long_value_raises_hipflask_error_400():
    with pytest.raises(HipflaskError) as raised:
        make_safe("a" * 1000)
    assert raised.value.status == 400


@pytest.mark.parametrize("name", ["/" * MAX_LENGTH, "é" * MAX_LENGTH])
def test_a_value_too_long_once_encoded_is_refused_with_400(name):
    with pytest.raises(HipflaskError) as raised:
        make_safe(name)
    assert raised.value.status == 400


@pytest.mark.parametrize("name", ["/" * 60, "é" * 33, "a" * MAX_LENGTH])
def test_every_accepted_namespace_is_a_usable_file_name(tmp_path, name):
    (tmp_path / (make_safe(name) + ".sqlite3-wal")).mkdir()


def test_custom_user_header_name_is_used(make_app):
    client = make_app(blueprint, USER_HEADER_NAME="X-User").test_client()
    assert client.get("/ns", headers={"X-User": "bob"}).get_json() == {"namespace": "bob"}


def test_default_header_is_ignored_when_a_custom_one_is_configured(make_app):
    client = make_app(blueprint, USER_HEADER_NAME="X-User").test_client()
    assert client.get("/ns", headers={"Uid": "bob"}).get_json() == {"namespace": DEFAULT}
