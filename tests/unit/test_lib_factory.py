"""hipflask.factory.create_app: settings on the app, identity headers, body limit."""
import io

from flask import Blueprint, request

import hipflask
from hipflask.config import Settings

blueprint = Blueprint("unit_factory", __name__)


@blueprint.get("/ok")
def ok():
    return "ok"


@blueprint.post("/form")
def form():
    return {"text": len(request.form.get("text", "")), "files": len(request.files)}


@blueprint.get("/broken")
def broken():
    raise RuntimeError("broken on purpose")


def test_settings_are_on_the_app(make_app):
    app = make_app(blueprint)
    settings = hipflask.settings(app)
    assert isinstance(settings, Settings)
    assert (settings.service, settings.hostname, settings.version) == ("unit", "unit-host", "unit-version")


def test_blueprint_routes_are_served(make_app):
    assert make_app(blueprint).test_client().get("/ok").get_data(as_text=True) == "ok"


def test_every_response_carries_x_hostname_and_x_app_version(make_app):
    response = make_app(blueprint).test_client().get("/ok")
    assert response.headers["X-HOSTNAME"] == "unit-host"
    assert response.headers["X-APP-VERSION"] == "unit-version"


def test_error_responses_carry_x_hostname_and_x_app_version(make_app):
    client = make_app(blueprint).test_client()
    for response in (client.get("/no-such-route"), client.get("/broken")):
        assert response.headers["X-HOSTNAME"] == "unit-host"
        assert response.headers["X-APP-VERSION"] == "unit-version"


def test_x_hostname_header_is_non_empty_without_x_hostname(make_app):
    response = make_app(blueprint, X_HOSTNAME="").test_client().get("/ok")
    assert response.headers["X-HOSTNAME"].strip()


def test_max_body_size_becomes_flask_max_content_length(make_app):
    assert make_app(blueprint, MAX_BODY_SIZE="512k").config["MAX_CONTENT_LENGTH"] == 512 * 1024


def test_json_keeps_the_key_order_of_the_view(make_app):
    app = make_app(blueprint)
    with app.app_context():
        assert app.json.dumps({"b": 1, "a": 2}).replace(" ", "") == '{"b":1,"a":2}'


def test_init_runs_with_the_app_and_the_env():
    seen = {}

    def init(app, env):
        seen["value"] = env.str("UNIT_OWN_SETTING", "missing")
        app.extensions["unit"] = "ready"

    app = hipflask.create_app("unit", init=init, environ={"UNIT_OWN_SETTING": "mine"})
    assert seen == {"value": "mine"}
    assert app.extensions["unit"] == "ready"


def test_urlencoded_form_within_max_body_size_is_accepted(make_app):
    response = make_app(blueprint).test_client().post("/form", data={"text": "x" * 600_000})
    assert response.get_json() == {"text": 600_000, "files": 0}


def test_multipart_text_field_within_max_body_size_is_accepted(make_app):
    data = {"text": "x" * 600_000, "file": (io.BytesIO(b"content"), "a.txt")}
    response = make_app(blueprint).test_client().post("/form", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
