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
