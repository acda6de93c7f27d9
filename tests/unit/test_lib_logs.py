"""hipflask.logs: one line per record on stderr, with the service and the request id."""
import logging

from flask import Blueprint

blueprint = Blueprint("unit_logs", __name__)


@blueprint.get("/log")
def log_something():
    logging.getLogger("unit.view").warning("something happened")
    return "ok"


def test_log_line_names_the_service_and_the_request_id(make_app, capsys):
    make_app(blueprint).test_client().get("/log", headers={"X-Request-ID": "req-123"})
    lines = [line for line in capsys.readouterr().err.splitlines() if "something happened" in line]
    assert len(lines) == 1
    assert " WARNING unit rid=req-123 unit.view: something happened" in lines[0]


def test_log_line_without_a_request_id_shows_a_dash(make_app, capsys):
    make_app(blueprint).test_client().get("/log")
    line = next(line for line in capsys.readouterr().err.splitlines() if "something happened" in line)
    assert "rid=- " in line


def test_records_below_log_level_are_dropped(make_app, capsys):
    make_app(blueprint, LOG_LEVEL="ERROR").test_client().get("/log")
    assert "something happened" not in capsys.readouterr().err


def test_building_apps_again_does_not_duplicate_log_lines(make_app, capsys):
    make_app(blueprint)
    make_app(blueprint).test_client().get("/log")
    assert capsys.readouterr().err.count("something happened") == 1


@blueprint.get("/fail")
def fail_on_purpose():
    from hipflask.errors import HipflaskError
    raise HipflaskError(409, "conflict", "taken")


def json_lines(err: str) -> list[dict]:
    import json
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_json_format_writes_one_object_per_line_with_the_request_fields(make_app, capsys):
    make_app(blueprint, LOG_FORMAT="json").test_client().get("/log", headers={"X-Request-ID": "req-9", "Uid": "alice"})
    line = next(entry for entry in json_lines(capsys.readouterr().err) if entry["message"] == "something happened")
    assert line["level"] == "WARNING"
    assert (line["service"], line["hostname"], line["logger"]) == ("unit", "unit-host", "unit.view")
    assert (line["request_id"], line["method"], line["route"], line["namespace"]) == ("req-9", "GET", "/log", "alice")
    assert line["time"].endswith("Z")


def test_json_error_lines_carry_the_eid_of_the_answer(make_app, capsys):
    response = make_app(blueprint, LOG_FORMAT="json").test_client().get("/fail")
    eid = response.get_json()["eid"]
    assert any(entry.get("eid") == eid for entry in json_lines(capsys.readouterr().err))


def test_json_request_lines_with_access_log_carry_status_and_duration(make_app, capsys):
    make_app(blueprint, LOG_FORMAT="json", ACCESS_LOG="-").test_client().get("/fail")
    line = next(entry for entry in json_lines(capsys.readouterr().err) if entry["message"] == "request")
    assert line["status"] == 409 and line["route"] == "/fail" and line["duration"] >= 0


def test_unknown_log_format_stops_the_service(make_app):
    import pytest

    from hipflask.config import ConfigError
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        make_app(blueprint, LOG_FORMAT="xml")
