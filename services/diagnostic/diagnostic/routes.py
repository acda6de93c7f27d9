"""Routes of the diagnostic service."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request

from hipflask import access
from hipflask.convert import convert_multidict, request_data
from hipflask.errors import HipflaskError
from hipflask.events import emit_local_event
from hipflask.jsonp import make_my_response_json
from hipflask.namespace import namespace
from hipflask.tokens import ADMIN, READ, WRITE, parse_ttl

from diagnostic import supervision

blueprint = Blueprint("diagnostic", __name__)
# Credentials never come back from an echo, whatever their header is called.
SECRET_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
SECRET_WORDS = ("token", "secret", "session", "api-key", "apikey", "password")
UNPROTECTED_WARNING = "AUTH_MODE=uid: any client reads and writes any namespace by sending its Uid header"


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(word in lowered for word in SECRET_WORDS)


@blueprint.get("/")
@blueprint.get("/diagnostic")
@access.open_to_all
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
    mode = access.policy().mode
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
        "auth_mode": mode,
        "warnings": [UNPROTECTED_WARNING] if mode == "uid" else [],
        "status_code": 200 if not failed else 500,
    }


@blueprint.get("/openapi.json")
@access.open_to_all
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
    :statuscode 200: always (``access_token`` is never echoed)
    """
    values = convert_multidict(request.args)
    values.pop("callback", None)
    values.pop(access.QUERY_PARAMETER, None)
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
    :form ttl: its lifetime (``3600``, ``15m``, ``12h``, ``30d``; default ``1h``), capped by the admin token's own expiry
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
