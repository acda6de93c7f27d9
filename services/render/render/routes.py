"""Routes of the render service: render a template, show it, and manage the user templates."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from hipflask.access import identity, requires
from hipflask.cache import cache_my_response
from hipflask.conditional import is_current, not_modified, set_etag
from hipflask.convert import form_data, request_data
from hipflask.error_responses import error_response
from hipflask.errors import HipflaskError
from hipflask.events import emit_local_event
from hipflask.jsonp import dumps, json_response, jsonp_callback, wrap
from hipflask.tokens import ADMIN, READ
from hipflask.user_content import TRUSTED_PAGE_CSP, protect

from render.engine import TemplateMissing
from render.templates import content_etag, current_access, current_templates

blueprint = Blueprint("render", __name__)
NOT_TEMPLATE_DATA = ("callback", "_reload_cache")


def _not_found(template: str, callback: str | None) -> Response:
    if callback is not None or template.lower().endswith(".json"):
        return json_response({"message": f"No Template {template}"}, 404)
    return error_response(404, "template_not_found", f"No Template {template}", page=True)


def _template_data() -> dict:
    """The template's data: the JSON body (an object) or the converted query and form values
    without `callback` and `_reload_cache`."""
    if request.is_json:
        data = request_data()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise HipflaskError(400, "bad_json", "the JSON body must be an object")
        return data
    return form_data(exclude=NOT_TEMPLATE_DATA)


def _render(template: str) -> Response:
    callback = jsonp_callback()
    data = _template_data()
    try:
        rendered = current_templates().render(template, data)
    except TemplateMissing:
        return _not_found(template, callback)
    if callback is None:
        # The operator wrote the template: it runs as written, but is never framed.
        return Response(rendered.body, mimetype=rendered.mimetype,
                        headers={"Content-Security-Policy": TRUSTED_PAGE_CSP, "X-Frame-Options": "DENY"})
    if rendered.is_json:
        return wrap(callback, rendered.body)
    return wrap(callback, dumps(rendered.body.decode("utf-8")))


def _cached_render():
    return cache_my_response(expiration_seconds=current_access().cache_seconds,
                             version=lambda template: current_templates().version(template))(_render)


@blueprint.route("/render/<path:template>", methods=["GET", "POST"], merge_slashes=False)
@requires(READ)  # a POST only sends the data to render with: it changes nothing
def render(template: str):
    """Render `template` with the request's data.

    The data is the JSON body (an object) when the request is JSON, otherwise the query and form
    values, converted (numbers become numbers). `.json` templates answer application/json and
    always valid JSON; `.html` text/html (autoescaped); other extensions their own type.

    :param template: the template's path under the template folders
    :query callback: optional JSONP callback: ``cb(<json>);`` for a JSON template, ``cb("<text>");``
        for any other, as application/javascript
    :query _reload_cache: skip the response cache (when RENDER_CACHE_SECONDS is set)
    :statuscode 200: rendered
    :statuscode 400: refused template name, malformed JSON body or callback
    :statuscode 404: no such template (``{"message": "No Template <path>"}`` for ``.json``,
        a short HTML page otherwise; 200 under JSONP)
    :statuscode 422: syntax error, render error, a render limit passed, or output that is not JSON;
        the body names the template and the line
    """
    access = current_access()
    if access.cache_seconds and request.method == "GET" and not request.content_length:
        return _cached_render()(template=template)
    return _render(template)


def _source_response(template: str) -> Response:
    try:
        text, folder = current_templates().source(template)
    except TemplateMissing:
        raise HipflaskError(404, "template_not_found", f"No Template {template}") from None
    etag = content_etag(text)
    if is_current(etag):
        return not_modified(etag, {"X-Template-Folder": folder})
    response = Response(text, mimetype="text/plain")
    response.headers["X-Template-Folder"] = folder
    return set_etag(protect(response, content_type="text/plain"), etag)


@blueprint.get("/template/<path:template>", merge_slashes=False)
def template_source(template: str):
    """The unrendered text of `template` (the user's when there is one, else the built-in).

    :param template: the template's path under the template folders
    :resheader X-Template-Folder: ``user`` or ``builtin``
    :resheader ETag: the text's (If-None-Match with it answers 304)
    :statuscode 200: the template text, text/plain; charset=utf-8
    :statuscode 304: the client's copy (If-None-Match) is this text
    :statuscode 400: refused template name
    :statuscode 404: no such template
    """
    return _source_response(template)


@blueprint.get("/raw_template/<path:template>", merge_slashes=False)
def raw_template(template: str):
    """The unrendered text of `template`: the original's name for ``GET /template/<path>``.

    :param template: the template's path under the template folders
    :statuscode 200: the template text, text/plain; charset=utf-8
    :statuscode 400: refused template name
    :statuscode 404: no such template
    """
    return _source_response(template)


@blueprint.get("/template/")
def template_list():
    """Every template as JSON: ``[{"name", "folder": "user"|"builtin", "shadowed"}]``, sorted by
    name; a built-in hidden by a user template of the same name has ``"shadowed": true``.

    :query callback: optional JSONP callback
    :statuscode 200: the list
    """
    return json_response(current_templates().list())


def _require_token() -> None:
    """An admin token (token mode) or RENDER_TOKEN."""
    if identity().scope == ADMIN:
        return
    token = current_access().token
    if token is None:
        raise HipflaskError(403, "writes_disabled", "template writes are disabled: RENDER_TOKEN is not set")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HipflaskError(401, "unauthorized", "template writes need 'Authorization: Bearer <RENDER_TOKEN>'",
                            headers={"WWW-Authenticate": 'Bearer realm="hipflask-render"'})


@blueprint.put("/template/<path:template>", merge_slashes=False)
@requires(ADMIN, own_secret=True)
def template_put(template: str):
    """Store or replace user template `template`; the body is the template text (UTF-8).

    The text is compiled first: a syntax error is refused and the previous template kept.
    Emits the event ``{"action": "put", "template", "etag"}`` (source ``render``) once stored.

    :param template: the template's path under the user template folder
    :reqheader Authorization: ``Bearer <RENDER_TOKEN>``, or an admin token in token mode
    :resheader ETag: the stored text's (the one ``GET /template/<path>`` then answers)
    :statuscode 200: replaced; ``{"template", "created": false}``
    :statuscode 201: created; ``{"template", "created": true}``
    :statuscode 400: refused template name, or a body that is not UTF-8
    :statuscode 401: missing or wrong token
    :statuscode 403: RENDER_TOKEN is not set: template writes are disabled
    :statuscode 409: the path collides with a folder or a file
    :statuscode 422: syntax error; the body names the line
    """
    _require_token()
    try:
        text = request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError:
        raise HipflaskError(400, "bad_template_text", "the template text is not valid UTF-8") from None
    created = current_templates().put(template, text)
    etag = content_etag(text)
    emit_local_event("render", {"action": "put", "template": template, "etag": etag})
    return set_etag(json_response({"template": template, "created": created}, 201 if created else 200), etag)


@blueprint.delete("/template/<path:template>", merge_slashes=False)
@requires(ADMIN, own_secret=True)
def template_delete(template: str):
    """Remove user template `template` (a built-in of the same name becomes visible again).

    Emits the event ``{"action": "delete", "template"}`` (source ``render``) once removed.

    :param template: the template's path under the user template folder
    :reqheader Authorization: ``Bearer <RENDER_TOKEN>``, or an admin token in token mode
    :statuscode 200: removed; ``{"template", "deleted": true}``
    :statuscode 400: refused template name
    :statuscode 401: missing or wrong token
    :statuscode 403: RENDER_TOKEN is not set, or the template is a built-in (built-ins cannot be deleted)
    :statuscode 404: no such template
    """
    _require_token()
    current_templates().delete(template)
    emit_local_event("render", {"action": "delete", "template": template})
    return json_response({"template": template, "deleted": True})
