"""hipflask.openapi: OpenAPI 3.1 from a route table and its httpdomain docstrings."""
from flask import Blueprint

from hipflask.openapi import document, merge, openapi_path, parse_docstring

blueprint = Blueprint("unit_openapi", __name__)


@blueprint.get("/things/<name>")
def list_things(name):
    """The things of a list.

    More words here.

    :param name: the list
    :query _limit, _offset: a page
    :reqheader If-None-Match: the list's ETag
    :resheader X-Total-Count: how many match
    :statuscode 200: the things
    :statuscode 400: a bad parameter,
        on two lines
    """
    return []


@blueprint.put("/things/<name>/<int:thing_id>")
def put_thing(name, thing_id):
    """Replace a thing.

    :reqheader Content-Type: ``application/json`` or ``application/x-www-form-urlencoded``
    :statuscode 200: replaced
    """
    return {}


@blueprint.delete("/things/<name>/<ids>")
def delete_things(name, ids):
    """Delete things."""
    return {}


def test_a_docstring_gives_summary_description_and_fields():
    summary, description, fields = parse_docstring(list_things.__doc__)
    assert (summary, description) == ("The things of a list.", "More words here.")
    assert ("statuscode", "400", "a bad parameter, on two lines") in fields


def test_a_rule_becomes_an_openapi_path_with_its_converters():
    assert openapi_path("/fs/<path:path>/<int:n>") == ("/fs/{path}/{n}", [("path", "path"), ("n", "int")])


def test_every_field_becomes_a_parameter_header_or_response(make_app):
    operation = document(make_app(blueprint))["paths"]["/things/{name}"]["get"]
    assert [(p["name"], p["in"]) for p in operation["parameters"]] == [
        ("name", "path"), ("_limit", "query"), ("_offset", "query"), ("If-None-Match", "header"), ("Uid", "header")]
    assert operation["responses"]["200"]["headers"]["X-Total-Count"]["schema"] == {"type": "integer"}
    assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}


def test_the_content_type_field_is_the_request_body(make_app):
    operation = document(make_app(blueprint))["paths"]["/things/{name}/{thing_id}"]["put"]
    assert list(operation["requestBody"]["content"]) == ["application/json", "application/x-www-form-urlencoded"]
    assert operation["parameters"][1]["schema"] == {"type": "integer"}


def test_rules_of_one_shape_share_one_path(make_app):
    paths = document(make_app(blueprint))["paths"]
    assert sorted(paths["/things/{name}/{thing_id}"]) == ["delete", "put"]
    assert "/things/{name}/{ids}" not in paths


def test_internal_routes_are_left_out(make_app):
    assert not [path for path in document(make_app(blueprint))["paths"] if path.startswith("/_hipflask")]


def test_the_error_shape_is_a_component(make_app):
    schema = document(make_app(blueprint))["components"]["schemas"]["Error"]
    assert schema["required"] == ["status", "code", "message"]


def test_each_service_serves_its_own_document(make_app):
    body = make_app(blueprint).test_client().get("/_hipflask/openapi.json").get_json()
    assert body["openapi"] == "3.1.0" and "/things/{name}" in body["paths"]


def test_merge_keeps_every_path_of_every_document():
    merged = merge([{"paths": {"/a": {"get": {}}}}, {"paths": {"/b": {"post": {}}}}], "v1")
    assert (merged["openapi"], list(merged["paths"]), merged["info"]["version"]) == ("3.1.0", ["/a", "/b"], "v1")
