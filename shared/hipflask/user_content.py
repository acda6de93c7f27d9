"""User content is data, never page: the headers of every response that carries bytes a user stored,
and of hipflask's own HTML pages.

User bytes (fs and uploader downloads, kv values, template sources) get `nosniff` and a sandboxing
CSP, so nothing in them runs as hipflask's origin; an active type (HTML, SVG, XML, JavaScript, ...)
is also sent as an attachment, unless its request path starts with one of INLINE_PREFIXES (then it
is shown inline, still sandboxed). hipflask's own pages (upload form, listings, error pages) get a
strict CSP of their own and refuse to be framed. The gateway sets the same two headers on the
files it serves itself (gateway/templates/hipflask.conf.template, location /_fs_files/).
"""
from __future__ import annotations

import mimetypes
from urllib.parse import quote

from flask import Flask, Response, request
from werkzeug.utils import secure_filename

from hipflask.config import ConfigError, Env
from hipflask.state import state

USER_CONTENT_CSP = "sandbox; default-src 'none'"
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
TRUSTED_PAGE_CSP = "frame-ancestors 'none'"  # operator-written pages (rendered templates) run as they are written
ACTIVE_TYPES = frozenset({
    "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/xsl",
    "application/xslt+xml", "text/javascript", "application/javascript", "application/x-javascript",
    "application/ecmascript", "text/ecmascript", "text/mathml", "application/mathml+xml",
    "application/x-shockwave-flash", "multipart/x-mixed-replace", "text/vtt", "application/pdf",
})
ACTIVE_EXTENSIONS = frozenset({
    "html", "htm", "shtml", "xhtml", "xht", "xml", "xsl", "xslt", "svg", "svgz", "js", "mjs", "rss", "atom",
    "mml", "rdf", "swf", "pdf", "vtt",
})


def is_active_type(content_type: str | None) -> bool:
    """Whether a browser may run content of this type (script, markup, plug-ins)."""
    if not content_type:
        return False
    mimetype = content_type.split(";", 1)[0].strip().lower()
    return mimetype in ACTIVE_TYPES or mimetype.endswith("+xml")


def is_active_name(name: str) -> bool:
    """Whether a file of this name is typed (by nginx or Python) as something a browser may run."""
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return extension in ACTIVE_EXTENSIONS or is_active_type(mimetypes.guess_type(name, strict=False)[0])


def inline_allowed(path: str) -> bool:
    """Whether the operator opted in to showing active content under this request path inline."""
    return any(path.startswith(prefix) for prefix in state().inline_prefixes)


def attachment(name: str) -> str:
    """A Content-Disposition value for downloading `name` (ASCII fallback + RFC 5987 name)."""
    fallback = secure_filename(name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def protect(response: Response, name: str | None = None, content_type: str | None = None) -> Response:
    """Mark `response` as user bytes: nosniff, the sandboxing CSP, and `attachment` for active
    content (typed by `content_type`, else by `name`) outside INLINE_PREFIXES."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = USER_CONTENT_CSP
    if content_type is not None:
        active = is_active_type(content_type)
    else:
        active = is_active_name(name) if name else False
    already = response.headers.get("Content-Disposition", "").startswith("attachment")
    if active and not already and not inline_allowed(request.path):
        response.headers["Content-Disposition"] = attachment(name or request.path.rpartition("/")[2] or "download")
    return response


def _page_headers(response: Response) -> Response:
    """hipflask's own HTML (any text/html response without a CSP yet) gets the strict page CSP."""
    if response.mimetype == "text/html":
        headers = response.headers
        if "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = PAGE_CSP
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def init_app(app: Flask, env: Env) -> None:
    prefixes = tuple(prefix.strip() for prefix in env.str("INLINE_PREFIXES", "").split(",") if prefix.strip())
    for prefix in prefixes:
        if not prefix.startswith("/"):
            raise ConfigError(f"INLINE_PREFIXES: expected request path prefixes such as /fs/site/, got {prefix!r}")
    state(app).inline_prefixes = prefixes
    app.after_request(_page_headers)
