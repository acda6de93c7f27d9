"""Routes of the diagnostic service."""
from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from hipflask import access
from hipflask.access import namespace
from hipflask.convert import form_data, request_data
from hipflask.errors import HipflaskError
from hipflask.events import emit_local_event
from hipflask.jsonp import json_response, jsonp_callback, make_my_response_json
from hipflask.tokens import ADMIN, READ, WRITE, parse_ttl

from diagnostic import health_json, status_page
from diagnostic.checks import current_answers, current_reports

blueprint = Blueprint("diagnostic", __name__)
# Credentials never come back from an echo, whatever their header is called.
SECRET_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
SECRET_WORDS = ("token", "secret", "session", "api-key", "apikey", "password")


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(word in lowered for word in SECRET_WORDS)


@blueprint.get("/")
@blueprint.get("/diagnostic")
@access.open_to_all
def diagnostic():
    """The status of the whole stack: every service (every replica) and Redis, checked in parallel
    (results reused for DIAGNOSTIC_CACHE_SECONDS; ``checked_at`` says when they were taken).
    With ``Accept: application/health+json``, the IETF draft health format; from a browser
    (``Accept: text/html``), the live status page.

    :query callback: optional JSONP callback
    :statuscode 200: every check passed (health+json: ``pass`` or ``warn``)
    :statuscode 500: a check failed; ``failed`` names it
    :statuscode 503: health+json: ``fail``
    """
    wanted = None if "callback" in request.args else _wanted(request.headers.get("Accept"))
    if wanted == "text/html":
        return status_page.page()
    if wanted == health_json.MEDIA_TYPE:
        remote = health_json.is_remote(request.headers.get("X-Real-IP", request.remote_addr))
        body, status = current_answers().health_answer(remote)
        return Response(body, status=status, headers=NO_CACHE, content_type=health_json.MEDIA_TYPE)
    jsonp_callback()  # refuse a bad callback before any work
    answers = current_answers()
    return json_response(answers.summary_text(namespace()), answers.summary_status)


_OFFERED = ["application/json", health_json.MEDIA_TYPE, "text/html"]
_CHOICES: dict[str | None, str | None] = {}  # Accept header -> what it picks (a dashboard sends the same one)
NO_CACHE = (("Cache-Control", "no-cache"),)


def _wanted(accept: str | None) -> str | None:
    try:
        return _CHOICES[accept]
    except KeyError:
        choice = parse_accept_header(accept, MIMEAccept).best_match(_OFFERED)
        if len(_CHOICES) < 256:
            _CHOICES[accept] = choice
        return choice


@blueprint.get("/openapi.json")
@access.open_to_all
def openapi_document():
    """The OpenAPI 3.1 document of every public route of every service, generated from their
    route tables and docstrings (services that did not answer are named in ``info.x-missing``).

    :statuscode 200: the document
    """
    return jsonify(current_reports().openapi.latest())


@blueprint.get("/readyz")
@access.open_to_all
def readyz():
    """Readiness of the whole stack (the gateway's ``/readyz``): every service has a ready replica.

    :statuscode 200: ``{"status": "pass"}``
    :statuscode 503: ``{"status": "fail", "output": "no ready replica: ..."}``
    """
    answers = current_answers()
    return Response(answers.ready, status=answers.ready_status, headers=NO_CACHE,
                    content_type=health_json.MEDIA_TYPE)


@blueprint.get("/diagnostic/rates")
@access.open_to_all
def rates():
    """Request and error rates per service over the last minutes, for the status page's charts.

    :statuscode 200: ``[{"time": ..., "rates": {"store": {"requests": 1.5, "errors": 0.0}}}]``
    """
    return jsonify(current_reports().rates.series())


@blueprint.get("/diagnostic/echo")
@make_my_response_json
def echo_parameters():
    """Echo the request's parameters back, converted as form data is.

    :query \\*: any parameters; they come back as JSON
    :query callback: optional JSONP callback (not echoed)
    :statuscode 200: always (``access_token`` is never echoed)
    """
    return form_data(exclude=("callback", access.QUERY_PARAMETER))


@blueprint.get("/diagnostic/fail")
def fail():
    """Always fails, to show how the application fails (a 500 with an error id).

    :statuscode 500: always
    """
    raise RuntimeError("diagnostic failure requested")


@blueprint.route("/echo", methods=["GET", "POST"])
@make_my_response_json
def echo_headers():
    """The request's headers as JSON, without credentials (``Cookie``, ``Authorization``,
    ``Proxy-Authorization``, or any header named like a token, secret or session).

    :statuscode 200: always
    """
    return {name: value for name, value in request.headers.items() if not _is_secret(name)}


@blueprint.post("/message/local_publish")
@access.requires(ADMIN)
@make_my_response_json
def local_publish():
    """Publish a local event (source ``message``) from a JSON or form body.

    :statuscode 200: ``{"message": "ok"}``
    :statuscode 400: the JSON body is malformed
    """
    emit_local_event("message", request_data())
    return {"message": "ok"}


def _minted_claims(admin_expires: int | None) -> tuple[str, str, int]:
    data = request_data()
    if not isinstance(data, dict):
        raise HipflaskError(400, "bad_token_request", "send a JSON object or a form: sub, scope, ttl")
    subject = str(data.get("sub") or namespace())
    scope = str(data.get("scope") or READ)
    if scope not in (READ, WRITE):
        raise HipflaskError(400, "bad_scope", "tokens minted over HTTP have the read or write scope; "
                                              "mint admin tokens with hipflask-token")
    try:
        ttl = parse_ttl(str(data.get("ttl") or "1h"))
    except ValueError as exc:
        raise HipflaskError(400, "bad_ttl", str(exc)) from None
    expires = int(time.time()) + ttl
    if admin_expires is not None:
        expires = min(expires, admin_expires)  # never outlives the token that minted it
    return subject, scope, expires


@blueprint.post("/auth/tokens")
@access.requires(ADMIN)
@make_my_response_json
def mint_token():
    """Mint a narrower token (admin tokens only, in token mode).

    :form sub: the namespace of the new token (default: the namespace the request acts on)
    :form scope: ``read`` (default) or ``write``
    :form ttl: its lifetime (``3600``, ``15m``, ``12h``, ``30d``; default ``1h``), capped by the admin
        token's own expiry
    :reqheader Authorization: ``Bearer <admin token>``
    :statuscode 201: ``{"token", "sub", "scope", "exp"}``
    :statuscode 400: a bad scope or ttl
    :statuscode 401: no valid token
    :statuscode 403: not an admin token, or not token mode, or no AUTH_KEYS to sign with
    """
    identity = access.identity()
    keyring = access.policy().keyring
    if identity.scope != ADMIN or keyring.signing is None:
        raise HipflaskError(403, "minting_disabled",
                            "tokens are minted over HTTP in token mode, by an admin token, with AUTH_KEYS set")
    subject, scope, expires = _minted_claims(identity.expires)
    now = int(time.time())
    ttl = max(1, expires - now)
    token = keyring.mint(subject, scope, ttl, now=now)
    return {"token": token, "sub": subject, "scope": scope, "exp": now + ttl, "status_code": 201}
