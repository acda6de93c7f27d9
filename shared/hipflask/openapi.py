"""OpenAPI 3.1 documents generated from a service's route table and its route docstrings.

The source of truth is what `make docs` already reads (sphinxcontrib-httpdomain's fields in each
view's docstring): `:param name:` (path), `:query a, b:`, `:reqheader Name:`, `:resheader Name:`
and `:statuscode N:`. Every rule of the app's url_map becomes an operation, except the internal
`/_hipflask/` routes and static files, so the document cannot drift from the code. A request
body is described by the media types named in the `:reqheader Content-Type:` field.

Each service serves its own document at `/_hipflask/openapi.json`; the diagnostic service merges
those of every service into the gateway's `/openapi.json` (`merge`).
"""
from __future__ import annotations

import inspect
import re
from collections.abc import Iterable

from flask import Blueprint, Flask, current_app, jsonify

from hipflask.access import open_to_all
from hipflask.state import state

INTERNAL_PREFIX = "/_hipflask/"
IGNORED_HEADERS = frozenset(("content-type", "accept", "authorization"))
ERROR_STATUSES = frozenset((400, 405, 412, 413, 415, 503, 507))
_FIELD = re.compile(r"^:(param|query|reqheader|resheader|statuscode)\s+([^:]+):\s*(.*)$")
_LITERAL = re.compile(r"``([^`]+)``")
_RULE_PARAMETER = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([A-Za-z_][A-Za-z0-9_]*)>")
_METHODS = ("get", "post", "put", "patch", "delete")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

ERROR_SCHEMA = {
    "type": "object",
    "description": "hipflask's one error shape; the eid is also in the service's log line",
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "eid": {"type": "string"},
    },
    "required": ["status", "code", "message"],
}
LIST_HEADERS = {
    "X-Total-Count": {"description": "how many items match before paging", "schema": {"type": "integer"}},
    "Link": {"description": 'RFC 8288 `<...>; rel="next"` when there is a next page', "schema": {"type": "string"}},
    "ETag": {"description": "the version of what was answered", "schema": {"type": "string"}},
}
BODY_SCHEMAS = {
    "application/json": {"type": "object"},
    "application/merge-patch+json": {"type": "object"},
    "application/x-www-form-urlencoded": {"type": "object", "additionalProperties": {"type": "string"}},
    "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                            "required": ["file"]},
}

blueprint = Blueprint("hipflask_openapi", __name__)


def parse_docstring(text: str | None) -> tuple[str, str, list[tuple[str, str, str]]]:
    """(summary, description, fields) of a docstring with httpdomain fields; a field's indented
    continuation lines are joined to it."""
    lines = inspect.cleandoc(text or "").splitlines()
    prose: list[str] = []
    fields: list[list[str]] = []  # [kind, name, text]
    for line in lines:
        match = _FIELD.match(line)
        if match:
            fields.append(list(match.groups()))
        elif fields and line.startswith((" ", "\t")):
            fields[-1][2] += " " + line.strip()
        elif not fields:
            prose.append(line)
    paragraphs = "\n".join(prose).strip().split("\n\n")
    summary = " ".join(paragraphs[0].split()) if paragraphs[0] else ""
    description = "\n\n".join(" ".join(p.split()) for p in paragraphs[1:])
    return summary, description, [(kind, name, text) for kind, name, text in fields]


def openapi_path(rule: str) -> tuple[str, list[tuple[str, str]]]:
    """The OpenAPI form of a werkzeug rule (`/fs/<path:path>` -> `/fs/{path}`) and its parameters
    as (name, converter)."""
    parameters = [(name, converter or "default") for converter, name in _RULE_PARAMETER.findall(rule)]
    return _RULE_PARAMETER.sub(lambda match: "{" + match[2] + "}", rule), parameters


def _parameter(name: str, where: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": where, "required": where == "path", "description": description,
            "schema": schema or {"type": "string"}}


def _request_body(media_types: list[str]) -> dict:
    content = {media: {"schema": BODY_SCHEMAS.get(media, {"type": "string", "format": "binary"})}
               for media in media_types}
    return {"required": False, "content": content}


def _responses(statuses: list[tuple[str, str]], headers: dict) -> dict:
    responses = {}
    for status, description in statuses or [("200", "success")]:
        response: dict = {"description": description or status}
        if status.isdigit() and 200 <= int(status) < 300 and headers:
            response["headers"] = headers
        if status.isdigit() and int(status) in ERROR_STATUSES:
            response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        responses[status] = response
    return responses


def operation(service: str, endpoint: str, method: str, view, rule_parameters, user_header: str) -> dict:
    """The operation of one view for one method, from its docstring."""
    summary, description, fields = parse_docstring(view.__doc__)
    documented = {name.strip(): text for kind, name, text in fields if kind == "param"}
    schemas = {"int": {"type": "integer"}, "float": {"type": "number"}}
    parameters = [_parameter(name, "path", documented.get(name, ""), schemas.get(converter))
                  for name, converter in rule_parameters]
    headers, statuses, media_types = {}, [], []
    for kind, names, text in fields:
        for name in (part.strip() for part in names.split(",")):
            if kind in ("query", "reqheader", "resheader") and not _NAME.fullmatch(name):
                continue
            if kind == "query":
                parameters.append(_parameter(name, "query", text))
            elif kind == "reqheader" and name.lower() == "content-type":
                media_types = [literal for literal in _LITERAL.findall(text) if "/" in literal]
            elif kind == "reqheader" and name.lower() not in IGNORED_HEADERS:
                parameters.append(_parameter(name, "header", text))
            elif kind == "resheader":
                headers[name] = dict(LIST_HEADERS.get(name, {"schema": {"type": "string"}}), description=text)
            elif kind == "statuscode":
                statuses.append((name, text))
    if user_header.lower() not in (p["name"].lower() for p in parameters if p["in"] == "header"):
        parameters.append(_parameter(user_header, "header", "the namespace (see the README's Namespaces)"))
    result = {"operationId": f"{endpoint}.{method}", "tags": [service], "summary": summary,
              "parameters": parameters, "responses": _responses(statuses, headers)}
    if description:
        result["description"] = description
    if media_types and method in ("post", "put", "patch"):
        result["requestBody"] = _request_body(media_types)
    return result


def document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every public route of `app`."""
    settings = state(app).settings
    paths: dict[str, dict] = {}
    shapes: dict[str, tuple[str, list]] = {}
    for rule in app.url_map.iter_rules():  # in registration order: the first rule of a shape names it
        if rule.endpoint == "static" or rule.rule.startswith(INTERNAL_PREFIX):
            continue
        path, rule_parameters = openapi_path(rule.rule)
        # OpenAPI holds one of `/a/{x}` and `/a/{y}`: the second's operations join the first's
        # path under its parameter names.
        first, first_parameters = shapes.setdefault(re.sub(r"\{[^}]+\}", "{}", path), (path, rule_parameters))
        renamed = {name: first_parameters[index][0] for index, (name, _) in enumerate(rule_parameters)}
        view = app.view_functions[rule.endpoint]
        for method in _METHODS:
            if method.upper() in (rule.methods or ()):
                made = operation(settings.service, rule.endpoint, method, view, rule_parameters, settings.user_header)
                for parameter in made["parameters"]:
                    if parameter["in"] == "path":
                        parameter["name"] = renamed[parameter["name"]]
                paths.setdefault(first, {})[method] = made
    return {
        "openapi": "3.1.0",
        "info": {"title": f"hipflask {settings.service}", "version": settings.version},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


def merge(documents: Iterable[dict], version: str) -> dict:
    """One document of the whole stack from the documents of its services (a path's first owner wins)."""
    paths: dict[str, dict] = {}
    for one in documents:
        for path, operations in one.get("paths", {}).items():
            paths.setdefault(path, operations)
    return {
        "openapi": "3.1.0",
        "info": {"title": "hipflask", "version": version,
                 "description": "Every public route of every family, generated from the route tables and "
                                "their docstrings; reached through the gateway."},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


@blueprint.get("/_hipflask/openapi.json")
@open_to_all
def own_document():
    """This service's OpenAPI document (merged by the diagnostic service into ``/openapi.json``).

    :statuscode 200: the OpenAPI 3.1 document
    """
    return jsonify(document(current_app))
