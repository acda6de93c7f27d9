"""The OpenAPI document: every public route of every service appears in the merged document."""
import importlib
import re

import pytest

from hipflask.openapi import INTERNAL_PREFIX, document, merge

SERVICES = ("diagnostic", "store", "kv", "fs", "render")


@pytest.fixture
def apps(build_app):
    return {name: build_app(importlib.import_module(f"{name}.wsgi").build, DIAGNOSTIC_TARGETS="")
            for name in SERVICES}


def shape(path):
    return re.sub(r"\{[^}]+\}", "{}", re.sub(r"<[^>]+>", "{}", path))


def test_every_route_of_every_service_is_in_the_document(apps):
    merged = merge([document(app) for app in apps.values()], "test")
    documented = {(shape(path), method.upper())
                  for path, operations in merged["paths"].items() for method in operations}
    routes = {(shape(rule.rule), method) for app in apps.values() for rule in app.url_map.iter_rules()
              if rule.endpoint != "static" and not rule.rule.startswith(INTERNAL_PREFIX)
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - documented == set()
    assert len(routes) > 30


def test_every_operation_names_its_status_codes(apps):
    merged = merge([document(app) for app in apps.values()], "test")
    undocumented = [(path, method) for path, operations in merged["paths"].items()
                    for method, operation in operations.items() if list(operation["responses"]) == ["200"]
                    and operation["responses"]["200"]["description"] == "success"]
    assert undocumented == []


def test_the_store_list_documents_its_query_conventions_and_headers(apps):
    operation = document(apps["store"])["paths"]["/store/{name}"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"_limit", "_offset", "_sort", "_since", "q", "_embed", "_expand", "callback"} <= names
    assert {"X-Total-Count", "Link", "ETag"} <= set(operation["responses"]["200"]["headers"])


def test_diagnostic_serves_the_merged_document(client):
    body = client.get("/openapi.json").get_json()
    assert body["openapi"] == "3.1.0"
    assert {"/diagnostic", "/openapi.json"} <= set(body["paths"])
    assert "x-missing" not in body["info"]


def test_a_service_that_does_not_answer_is_named_missing(build_app):
    app = build_app(importlib.import_module("diagnostic.wsgi").build, DIAGNOSTIC_TARGETS="store=http://127.0.0.1:1",
                    DIAGNOSTIC_TIMEOUT="0.5")
    assert app.test_client().get("/openapi.json").get_json()["info"]["x-missing"] == ["store"]
