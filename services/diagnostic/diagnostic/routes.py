"""Routes of the diagnostic service."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from hipflask.convert import convert_multidict, request_data
from hipflask.events import emit_local_event
from hipflask.jsonp import make_my_response_json
from hipflask.namespace import namespace

from diagnostic import supervision

blueprint = Blueprint("diagnostic", __name__)


@blueprint.get("/")
@blueprint.get("/diagnostic")
@make_my_response_json
def diagnostic():
    """The status of the whole stack: every service and Redis, checked in parallel (results
    reused for DIAGNOSTIC_CACHE_SECONDS; ``checked_at`` says when they were taken).

    :query callback: optional JSONP callback
    :statuscode 200: every check passed
    :statuscode 500: a check failed; ``failed`` names it
    """
    settings = current_app.extensions["hipflask"]
    checked_at, results = current_app.extensions["diagnostic"].latest()
    failed = [result.name for result in results if not result.ok]
    return {
        "message": "ok" if not failed else "failed",
        "version": settings.version,
        "hostname": settings.hostname,
        "uid": namespace(),
        "failed": failed,
        "checked_at": round(checked_at, 3),
        "checks": {
            result.name: {"status": "ok" if result.ok else "failed",
                          "latency_ms": round(result.latency_ms, 2),
                          "version": result.detail.get("version"),
                          "hostname": result.detail.get("hostname"),
                          "uptime_seconds": result.detail.get("uptime_seconds"),
                          "restarts": result.detail.get("restarts"),
                          **({"volume": result.detail["volume"]} if "volume" in result.detail else {}),
                          **({"redis_failures": result.detail["redis_failures"]}
                             if result.detail.get("redis_failures") else {}),
                          **({"detail": result.detail} if not result.ok else {})}
            for result in results
        },
        **supervision.report(current_app.extensions["diagnostic.stack_state"]),
        "status_code": 200 if not failed else 500,
    }


@blueprint.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of every public route of every service, generated from their
    route tables and docstrings (services that did not answer are named in ``info.x-missing``).

    :statuscode 200: the document
    """
    return jsonify(current_app.extensions["diagnostic.openapi"].latest())


@blueprint.get("/diagnostic/echo")
@make_my_response_json
def echo_parameters():
    """Echo the request's parameters back, converted as form data is.

    :query \\*: any parameters; they come back as JSON
    :query callback: optional JSONP callback (not echoed)
    :statuscode 200: always
    """
    values = convert_multidict(request.args)
    values.pop("callback", None)
    return values


@blueprint.get("/diagnostic/fail")
def fail():
    """Always fails, to show how the application fails (a 500 with an error id).

    :statuscode 500: always
    """
    raise RuntimeError("diagnostic failure requested")


@blueprint.route("/echo", methods=["GET", "POST"])
@make_my_response_json
def echo_headers():
    """The request's headers as JSON.

    :statuscode 200: always
    """
    return dict(request.headers.items())


@blueprint.post("/message/local_publish")
@make_my_response_json
def local_publish():
    """Publish a local event (source ``message``) from a JSON or form body.

    :statuscode 200: ``{"message": "ok"}``
    :statuscode 400: the JSON body is malformed
    """
    emit_local_event("message", request_data())
    return {"message": "ok"}
