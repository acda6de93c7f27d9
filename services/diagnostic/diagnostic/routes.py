"""Routes of the diagnostic service."""
from __future__ import annotations

import time

from flask import Blueprint, Response, json, jsonify, request

from hipflask import access
from hipflask.access import namespace
from hipflask.convert import form_data, request_data
from hipflask.errors import HipflaskError
from hipflask.events import emit_local_event
from hipflask.jsonp import make_my_response_json
from hipflask.state import state
from hipflask.tokens import ADMIN, READ, WRITE, parse_ttl

from diagnostic import health_json, status_page, supervision
from diagnostic.checks import by_service, current_checker, current_reports

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
    wanted = None if "callback" in request.args else request.accept_mimetypes.best_match(
        ["application/json", health_json.MEDIA_TYPE, "text/html"])
    if wanted == "text/html":
        return status_page.page()
    checked_at, results = current_checker().latest()
    if wanted == health_json.MEDIA_TYPE:
        document = health_json.health_document(results, checked_at, state().settings,
                                               current_reports().volume_warn, access.policy().mode,
                                               request.headers.get("X-Real-IP", request.remote_addr))
        return Response(json.dumps(document) + "\n", status=503 if document["status"] == "fail" else 200,
                        mimetype=health_json.MEDIA_TYPE, headers={"Cache-Control": "no-cache"})
    return summary(checked_at, results)


@make_my_response_json
def summary(checked_at, results):
    settings = state().settings
    services = by_service(results)
    failed = [name for name, replicas in services.items() if not all(result.ok for result in replicas)]
    mode = access.policy().mode
    checks = {}
    for name, replicas in services.items():
        ok = all(result.ok for result in replicas)
        first = next((result for result in replicas if not result.ok), replicas[0])
        checks[name] = {"status": "ok" if ok else "failed",
                        "latency_ms": round(max(result.latency_ms for result in replicas), 2),
                        "version": first.detail.get("version"),
                        "hostname": first.detail.get("hostname"),
                        "uptime_seconds": first.detail.get("uptime_seconds"),
                        "restarts": first.detail.get("restarts"),
                        **({"volume": first.detail["volume"]} if "volume" in first.detail else {}),
                        **({"redis_failures": first.detail["redis_failures"]}
                           if first.detail.get("redis_failures") else {}),
                        **({"detail": first.detail} if not ok else {})}
    return {
        "message": "ok" if not failed else "failed",
        "version": settings.version,
        "hostname": settings.hostname,
        "uid": namespace(),
        "failed": failed,
        "checked_at": round(checked_at, 3),
        "checks": checks,
        **supervision.report(current_reports().stack_state_file),
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
    return jsonify(current_reports().openapi.latest())


@blueprint.get("/readyz")
@access.open_to_all
def readyz():
    """Readiness of the whole stack (the gateway's ``/readyz``): every service has a ready replica.

    :statuscode 200: ``{"status": "pass"}``
    :statuscode 503: ``{"status": "fail", "output": "no ready replica: ..."}``
    """
    checked_at, results = current_checker().latest()
    body, status = health_json.ready_document(results, checked_at, state().settings)
    return Response(json.dumps(body) + "\n", status=status, mimetype=health_json.MEDIA_TYPE,
                    headers={"Cache-Control": "no-cache"})


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
