"""Every machine `code` of the one error shape, with its HTTP status and what it means.

The README's "Error codes" section lists the same table, and a unit test checks that every
code raised in shared/, services/ and the gateway is here. Adding a code is one line below
(and its row in the README). Werkzeug's own HTTP errors take their name in snake case
(`Method Not Allowed` is `method_not_allowed`); those hipflask can answer are listed too.
"""
from __future__ import annotations

from typing import NamedTuple


class ErrorCode(NamedTuple):
    status: int
    meaning: str


ERROR_CODES: dict[str, ErrorCode] = {
    # every service (the library and Werkzeug)
    "bad_request": ErrorCode(400, "the request is malformed (an unreadable form, a bad header)"),
    "bad_callback": ErrorCode(400, "the JSONP callback is not a JavaScript identifier path"),
    "bad_namespace": ErrorCode(400, "the user header is too long to name a namespace"),
    "bad_json": ErrorCode(400, "the body is not valid JSON, too deep (MAX_JSON_DEPTH), "
                               "or not the JSON type the route takes"),
    "incomplete_body": ErrorCode(400, "the body ended before its Content-Length (or its chunked end); "
                                      "nothing was stored"),
    "not_found": ErrorCode(404, "no such route, or (fs) no such file"),
    "method_not_allowed": ErrorCode(405, "the route does not take this method; `Allow` lists those it takes"),
    "request_entity_too_large": ErrorCode(413, "the body is larger than MAX_BODY_SIZE (or FS_MAX_UPLOAD_SIZE)"),
    "unsupported_media_type": ErrorCode(415, "the body's content type is not one the route takes"),
    "no_space": ErrorCode(507, "the volume is full; nothing was stored"),
    "internal_error": ErrorCode(500, "an unexpected error; the eid is in the service's log with the traceback"),
    # access (AUTH_MODE=token) and token minting (diagnostic's /auth/tokens)
    "unauthorized": ErrorCode(401, "the request needs credentials it did not send, or sent wrong ones"),
    "insufficient_scope": ErrorCode(403, "the token's scope (read, write, admin) is below the one the request needs"),
    "minting_disabled": ErrorCode(403, "tokens are minted over HTTP only in token mode, by an admin token, "
                                       "with AUTH_KEYS"),
    "bad_token_request": ErrorCode(400, "a token request is not a JSON object or a form of sub, scope and ttl"),
    "bad_scope": ErrorCode(400, "tokens minted over HTTP have the read or write scope"),
    # PostgreSQL (store and kv with a database URL)
    "database_unavailable": ErrorCode(503, "the PostgreSQL database is unavailable; nothing was written; retry"),
    "database_timeout": ErrorCode(504, "the PostgreSQL database did not answer within DATABASE_STATEMENT_TIMEOUT"),
    # the gateway
    "forbidden_origin": ErrorCode(403, "a cross-origin request from an origin CORS_ORIGINS does not list"),
    "rate_limited": ErrorCode(429, "too many requests from this client (RATE_LIMIT); retry after a second"),
    "request_header_fields_too_large": ErrorCode(431, "a header is over 8 KiB, or all of them over 32 KiB"),
    "request_uri_too_long": ErrorCode(414, "the request line (method, path and query) is over 8 KiB"),
    "gateway_error": ErrorCode(500, "the gateway itself failed on this request"),
    "service_unavailable": ErrorCode(502, "the service is down (503 when its address no longer answers)"),
    "service_timeout": ErrorCode(504, "the service did not answer in time"),
    # store
    "bad_store_name": ErrorCode(400, "a store name is 1 to 128 letters, digits, `_`, `.` or `-`"),
    "bad_id": ErrorCode(400, "an item id is not an integer from 1 to 2**53-1, or too many ids at once"),
    "bad_query": ErrorCode(400, "a list parameter (paging, sorting, filtering) cannot be used"),
    "ids_exhausted": ErrorCode(409, "the store has used every id"),
    "precondition_failed": ErrorCode(412, "If-Match or If-None-Match does not hold; nothing was written"),
    # kv
    "bad_key": ErrorCode(400, "the key is refused (empty segments, control characters, too long)"),
    "bad_ttl": ErrorCode(400, "kv: ttl (or X-TTL) is not a positive whole number; "
                              "a minted token: ttl is not a lifetime such as 15m"),
    "bad_limit": ErrorCode(400, "the listing's limit is not a positive whole number"),
    "too_large": ErrorCode(413, "a kv value or an fs upload is larger than its limit"),
    # fs
    "bad_path": ErrorCode(400, "the path could leave the volume, or no file may have it"),
    "bad_partition": ErrorCode(400, "a partition name is 1 to 128 letters, digits, `_`, `.` or `-`"),
    "reserved_partition": ErrorCode(400, "the name is a route of its own and cannot name a partition"),
    "bad_filename": ErrorCode(400, "the uploaded file's name has nothing safe to keep"),
    "missing_file": ErrorCode(400, "the upload has no multipart field `file`"),
    "exists": ErrorCode(409, "a file of that name exists; the first one is kept"),
    "conflict": ErrorCode(409, "the path collides with a folder or a file"),
    "storage_unavailable": ErrorCode(503, "the object store (FS_BACKEND=s3) does not answer"),
    # render
    "bad_template_name": ErrorCode(400, "the template name is refused (see Paths under Render)"),
    "bad_template_text": ErrorCode(400, "the template text is not valid UTF-8"),
    "writes_disabled": ErrorCode(403, "template writes are disabled: RENDER_TOKEN is not set"),
    "builtin_template": ErrorCode(403, "built-in templates cannot be deleted"),
    "template_not_found": ErrorCode(404, "no such template"),
    "template_path_conflict": ErrorCode(409, "the template path collides with a folder or a file"),
    "template_syntax": ErrorCode(422, "the template does not compile"),
    "template_error": ErrorCode(422, "the template failed while rendering"),
    "render_limit": ErrorCode(422, "a render passed RENDER_TIMEOUT, RENDER_MAX_OUTPUT or RENDER_MAX_RANGE"),
    "invalid_json_output": ErrorCode(422, "a .json template's output is not JSON"),
    # events
    "unknown_filter": ErrorCode(400, "/events got a query parameter that is no filter"),
    "bad_filter": ErrorCode(400, "an /events filter names no family"),
    "bad_event_id": ErrorCode(400, "Last-Event-ID (or lastEventId) is not a stream id such as 1732550400000-0"),
    "bad_since": ErrorCode(400, "since is not a time in epoch milliseconds"),
    "redis_unavailable": ErrorCode(503, "the event stream (Redis) cannot be read now; retry"),
    "too_many_subscribers": ErrorCode(503, "the events replica serves EVENTS_MAX_SUBSCRIBERS streams already; retry"),
}
