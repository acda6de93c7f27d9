"""hipflask.errors: the one JSON error shape, and 500s with an error id that is in the log."""
import re
from pathlib import Path

from flask import Blueprint, request

from hipflask.errors import HipflaskError

ERROR_KEYS = {"status", "code", "message", "eid"}
EID = re.compile(r"[0-9a-f]{16}")

blueprint = Blueprint("unit_errors", __name__)


@blueprint.get("/conflict")
def conflict():
    raise HipflaskError(409, "conflict", "the name is taken")


@blueprint.get("/busy")
def busy():
    raise HipflaskError(503, "busy", "try later", headers={"Retry-After": "5"})


@blueprint.route("/upload", methods=["POST"])
def upload():
    return {"size": len(request.get_data())}


@blueprint.route("/broken", methods=["GET", "POST"])
def broken():
    raise RuntimeError("broken on purpose")


def test_hipflask_error_answers_the_one_error_shape(make_app):
    response = make_app(blueprint).test_client().get("/conflict")
    assert response.status_code == 409
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    assert (body["status"], body["code"], body["message"]) == (409, "conflict", "the name is taken")
    assert EID.fullmatch(body["eid"])


def test_error_responses_are_not_cacheable(make_app):
    assert make_app(blueprint).test_client().get("/conflict").headers["Cache-Control"] == "no-cache"


def test_hipflask_error_headers_are_sent(make_app):
    response = make_app(blueprint).test_client().get("/busy")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_hipflask_error_eid_is_in_the_log_line(make_app, caplog):
    eid = make_app(blueprint).test_client().get("/conflict").get_json()["eid"]
    assert any(eid in record.getMessage() for record in caplog.records)


def test_every_error_gets_a_fresh_eid(make_app):
    client = make_app(blueprint).test_client()
    assert client.get("/conflict").get_json()["eid"] != client.get("/conflict").get_json()["eid"]


def test_unknown_route_answers_json_404_in_the_error_shape(make_app):
    response = make_app(blueprint).test_client().get("/no/such/route")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    assert (body["status"], body["code"]) == (404, "not_found")


def test_wrong_method_answers_json_405_keeping_the_allow_header(make_app):
    response = make_app(blueprint).test_client().delete("/conflict")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.get_json()["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_body_over_max_body_size_answers_json_413(make_app):
    client = make_app(blueprint, MAX_BODY_SIZE="1k").test_client()
    response = client.post("/upload", data=b"x" * 2048, content_type="application/octet-stream")
    assert response.status_code == 413
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    assert (body["status"], body["code"]) == (413, "request_entity_too_large")


def test_body_within_max_body_size_is_accepted(make_app):
    client = make_app(blueprint, MAX_BODY_SIZE="1k").test_client()
    response = client.post("/upload", data=b"x" * 1024, content_type="application/octet-stream")
    assert response.get_json() == {"size": 1024}


def test_unhandled_exception_answers_json_500_with_an_eid_when_accept_asks_json(make_app):
    response = make_app(blueprint).test_client().get("/broken", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert (body["status"], body["code"]) == (500, "internal_error")
    assert EID.fullmatch(body["eid"])


def test_unhandled_exception_answers_json_500_when_the_request_is_json(make_app):
    response = make_app(blueprint).test_client().post("/broken", json={"a": 1}, headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert EID.fullmatch(response.get_json()["eid"])


def test_unhandled_exception_answers_an_html_page_with_the_eid_otherwise(make_app):
    client = make_app(blueprint).test_client()
    for headers in ({}, {"Accept": "*/*"},
                    {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}):
        response = client.get("/broken", headers=headers)
        assert response.status_code == 500
        assert response.mimetype == "text/html"
        assert re.search(r"Error id: <code>[0-9a-f]{16}</code>", response.get_data(as_text=True))


def test_unhandled_exception_does_not_leak_the_exception_text(make_app):
    response = make_app(blueprint).test_client().get("/broken", headers={"Accept": "application/json"})
    assert "broken on purpose" not in response.get_data(as_text=True)


def test_unhandled_exception_eid_is_in_the_log_record_with_the_traceback(make_app, caplog):
    eid = make_app(blueprint).test_client().get("/broken", headers={"Accept": "application/json"}).get_json()["eid"]
    records = [record for record in caplog.records if eid in record.getMessage()]
    assert len(records) == 1
    assert records[0].levelname == "ERROR"
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], RuntimeError)


def test_unhandled_exception_html_eid_is_the_logged_eid(make_app, caplog):
    page = make_app(blueprint).test_client().get("/broken").get_data(as_text=True)
    eid = re.search(r"<code>([0-9a-f]{16})</code>", page).group(1)
    assert any(eid in record.getMessage() and record.exc_info for record in caplog.records)


def test_errors_module_imports_nothing_from_hipflask():
    source = (Path(__file__).resolve().parents[2] / "shared/hipflask/errors.py").read_text()
    assert not re.search(r"^\s*(from|import) hipflask", source, re.MULTILINE)
