"""Routes of the fs service: the file store `/fs/<path>` and the uploader (`/<partition>`, `/<partition>/`,
`/list/`, `/dl/`).

A partition's listing at `/<partition>/` links its files by relative names (`a.txt` is
`/<partition>/a.txt`), so mirroring tools that stay below a URL (rclone's http backend, `wget -r
-np`) follow it; `/list/<partition>` keeps its `/dl/` links.

Downloads are answered with `X-Accel-Redirect` to the gateway's internal location `/_fs_files/`,
which serves the file from the volume (Range, ETag, 304, HEAD, content types); with
FS_ACCEL_REDIRECT=false the service sends the file itself.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import cast
from urllib.parse import quote

from flask import Blueprint, Response, current_app, make_response, render_template, request, send_file
from prometheus_client import Counter
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from hipflask import user_content
from hipflask.errors import HipflaskError
from hipflask.events import emit_local_event
from hipflask.jsonp import json_response, wants_json

from fs import paths
from fs.backend import ObjectStore
from fs.errors import Exists, TooLarge
from fs.records import Located, Stored
from fs.storage import current_file_store
from fs.temporaries import Incoming

blueprint = Blueprint("fs", __name__, template_folder="templates")
ACCEL_PREFIX = "/_fs_files/"
S3_ACCEL_PREFIX = "/_fs_s3/"
S3_URL_HEADER = "X-S3-URL"
SHA256_HEADER = "X-Content-SHA256"
# The ETag of the file as this service saw it: the gateway sends X-Content-SHA256 only when the file
# it serves still has that ETag (replaced since, by a race or within the download memo: none is sent).
VERSION_HEADER = "X-Content-Version"
FILES_WRITTEN = Counter("hipflask_fs_files_written", "Files stored (uploads and replacements)", ["service"])
FILES_DELETED = Counter("hipflask_fs_files_deleted", "Files deleted", ["service"])
BYTES_UPLOADED = Counter("hipflask_fs_uploaded_bytes", "Bytes of the files stored", ["service"])
BYTES_DOWNLOADED = Counter("hipflask_fs_downloaded_bytes", "Bytes of the files downloads asked for (whole "
                           "files; a Range request counts the file's size)", ["service"])


def _stored(size: int) -> None:
    """Every committed upload is counted here (then emitted by the caller)."""
    FILES_WRITTEN.labels("fs").inc()
    BYTES_UPLOADED.labels("fs").inc(size)


def _emit_upload(url_path: str, stored: Stored, locate: Callable[[], Located]) -> None:
    """The fs.upload event, with the ETag the gateway serves the file with (nginx's mtime-size on a
    local volume, the object store's own ETag on S3)."""
    try:
        located = locate()
        etag = located.served_etag
    except (HipflaskError, OSError):  # replaced or removed meanwhile: the event still names the upload
        etag = None
    _stored(stored.size)
    emit_local_event("fs", {"action": "upload", "path": url_path, "etag": etag, "size": stored.size,
                            "sha256": stored.sha256})


@blueprint.before_app_request
def refuse_unsafe_paths():
    """Refuse `..`, `.`, `//`, backslashes, NUL and percent-encoded dots or slashes on every path."""
    paths.check_request(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI"), request.path)


@contextlib.contextmanager
def _size_limit():
    try:
        yield
    except RequestEntityTooLarge:
        raise TooLarge(current_file_store().max_size) from None


def _uploaded_file() -> FileStorage:
    with _size_limit():
        upload = request.files.get("file")
    if upload is None:
        raise HipflaskError(400, "missing_file", "send the file in the multipart field 'file' (curl -F file=@name)")
    return upload


def _incoming(upload: FileStorage) -> Incoming:
    """The temporary file of the backend that the part was streamed into (`fs.streaming`)."""
    return cast(Incoming, upload.stream)


def _object_store() -> ObjectStore:
    """The backend, for a file it located with a `key`: only object stores give one."""
    return cast(ObjectStore, current_file_store())


def _send_object(located: Located) -> Response:
    """An object-store file sent by the service itself (no gateway in front), Range passed on."""
    answer = _object_store().open(located, request.headers.get("Range"))
    headers = {name: answer[key] for name, key in (("Content-Range", "ContentRange"), ("ETag", "ETag"),
                                                   ("Content-Length", "ContentLength")) if answer.get(key)}
    body = answer["Body"]
    return current_app.response_class(body.iter_chunks(1024 * 1024), status=206 if "Content-Range" in headers else 200,
                                      headers=headers, mimetype=answer.get("ContentType"), direct_passthrough=True)


def _send(located: Located, attachment: bool) -> Response:
    BYTES_DOWNLOADED.labels("fs").inc(located.size)
    if current_app.config["FS_ACCEL_REDIRECT"]:
        response = current_app.response_class(status=200)
        del response.headers["Content-Type"]  # the gateway then types the file by its name
        if located.key is None:
            response.headers["X-Accel-Redirect"] = ACCEL_PREFIX + quote(located.relpath)
            response.headers[VERSION_HEADER] = cast(str, located.volume_etag)
        else:
            response.headers["X-Accel-Redirect"] = S3_ACCEL_PREFIX
            method = "HEAD" if request.method == "HEAD" else "GET"
            response.headers[S3_URL_HEADER] = _object_store().url(located, method)
            if located.served_etag:
                response.headers[VERSION_HEADER] = located.served_etag
    elif located.path is None:  # an object store's file (it has a key)
        response = _send_object(located)
    else:
        response = send_file(located.path, conditional=True, download_name=located.name)
    if located.sha256:
        response.headers[SHA256_HEADER] = located.sha256
    if attachment:
        response.headers["Content-Disposition"] = user_content.attachment(located.name)
    # nosniff and the sandbox also come from the gateway's /_fs_files/ (nginx drops these two on a redirect)
    return user_content.protect(response, name=located.name)


def _wants_json_listing() -> bool:
    requested = request.args.get("format")
    return requested == "json" if requested else wants_json()


def _listing(partition: str, stored: str | None = None, relative: bool = False, status: int = 200) -> Response:
    entries = current_file_store().listing(partition)
    if _wants_json_listing():
        return json_response([entry.as_json() for entry in entries], status)
    page = render_template("fs/listing.html", partition=partition, entries=entries, stored=stored, relative=relative)
    return make_response(page, status)


def _wants_html() -> bool:
    return not _wants_json_listing() and "text/html" in request.accept_mimetypes.values()


@blueprint.get("/fs/<path:path>")
def fs_download(path: str):
    """The bytes of the file at `path` (served by the gateway from the volume).

    :param path: a relative path of plain names (`a/b/c.txt`)
    :statuscode 200: the file (``Range`` gives ``206``, ``If-None-Match`` ``304`` through the gateway)
    :statuscode 400: the path is unsafe (``..``, encoded separators, a symlink, ...)
    :statuscode 404: no such file
    """
    return _send(current_file_store().locate_file(path), attachment=False)


@blueprint.post("/fs/<path:path>")
def fs_upload(path: str):
    """Store the multipart field `file` at `path`, replacing any file there (`curl -F file=@x`).

    :param path: a relative path of plain names; missing folders are made
    :reqheader Content-Type: ``multipart/form-data`` with the field ``file``
    :statuscode 200: ``Thanks``; the header ``X-Content-SHA256`` holds the file's sha256
    :statuscode 400: the path is unsafe or the field ``file`` is missing
    :statuscode 409: a folder is at `path`, or a file is where a folder is needed
    :statuscode 413: the upload is larger than FS_MAX_UPLOAD_SIZE (nothing is kept)
    """
    names = paths.fs_path(path)
    stored = current_file_store().put(names, _incoming(_uploaded_file()))
    _emit_upload(f"/fs/{path}", stored, lambda: current_file_store().locate_file(path))
    return "Thanks", 200, {SHA256_HEADER: stored.sha256}


@blueprint.put("/fs/<path:path>")
def fs_put(path: str):
    """Store the raw request body at `path`, replacing any file there (`curl -T x`).

    :param path: a relative path of plain names; missing folders are made
    :reqheader Content-Type: any (``application/octet-stream``); the body is stored as it is
    :statuscode 200: ``Thanks``; the header ``X-Content-SHA256`` holds the file's sha256
    :statuscode 400: the path is unsafe
    :statuscode 409: a folder is at `path`, or a file is where a folder is needed
    :statuscode 413: the body is larger than FS_MAX_UPLOAD_SIZE (nothing is kept)
    """
    names = paths.fs_path(path)
    with _size_limit():
        stored = current_file_store().write(names, request.stream)
    _emit_upload(f"/fs/{path}", stored, lambda: current_file_store().locate_file(path))
    return "Thanks", 200, {SHA256_HEADER: stored.sha256}


@blueprint.delete("/fs/<path:path>")
def fs_delete(path: str):
    """Remove the file at `path`.

    :param path: a relative path of plain names
    :statuscode 200: ``Deleted``
    :statuscode 400: the path is unsafe
    :statuscode 404: no such file
    """
    current_file_store().delete(path)
    FILES_DELETED.labels("fs").inc()
    emit_local_event("fs", {"action": "delete", "path": f"/fs/{path}"})
    return "Deleted"


@blueprint.get("/<partition>")
def upload_form(partition: str):
    """The HTML upload form of a partition.

    :param partition: 1-128 letters, digits, ``_.-``; not a reserved name (``list``, ``dl``, ``fs``, ...)
    :statuscode 200: the form
    :statuscode 400: the partition name is invalid or reserved
    """
    return render_template("fs/form.html", partition=paths.partition(partition))


@blueprint.post("/<partition>")
def upload(partition: str):
    """Store the multipart field `file` in a partition under a safe version of its name.

    Answers the partition's listing (HTML, or JSON as for ``/list/<partition>``).

    :param partition: 1-128 letters, digits, ``_.-``; not a reserved name
    :reqheader Content-Type: ``multipart/form-data`` with the field ``file``
    :statuscode 200: the listing naming the file; ``X-Content-SHA256`` holds its sha256
    :statuscode 400: bad partition, missing field ``file``, or a name with nothing safe in it
    :statuscode 409: a file of that name exists (HTML page); the first file is kept
    :statuscode 413: the upload is larger than FS_MAX_UPLOAD_SIZE (nothing is kept)
    """
    partition = paths.partition(partition)
    upload = _uploaded_file()
    name = paths.upload_name(upload.filename)
    try:
        stored = current_file_store().create(partition, name, _incoming(upload))
    except Exists:
        if _wants_json_listing():
            raise
        return render_template("fs/exists.html", partition=partition, name=name), 409
    _emit_upload(f"/{partition}/{name}", stored, lambda: current_file_store().locate_upload(partition, name))
    response = _listing(partition, stored=name)
    response.headers[SHA256_HEADER] = stored.sha256
    return response


@blueprint.put("/<partition>/<name>")
def upload_by_put(partition: str, name: str):
    """Store the raw request body in a partition under a safe version of `name`: ``curl -T file
    http://host/<partition>/`` (curl then sends ``PUT /<partition>/file``) or ``curl -T file
    http://host/<partition>/<name>``. Streamed to the volume with its sha256, as the form upload.

    Answers curl and other clients that do not ask for ``text/html`` with the download URL on one
    line of ``text/plain``; browsers with the partition's listing (JSON with ``?format=json`` or
    ``Accept: application/json``).

    :param partition: 1-128 letters, digits, ``_.-``; not a reserved name
    :param name: the file's name, made safe as the form upload makes it
    :reqheader Content-Type: any (``application/octet-stream``); the body is stored as it is
    :resheader Location: the download URL
    :resheader X-Content-SHA256: the file's sha256
    :statuscode 201: stored; the body is the download URL (or the listing)
    :statuscode 400: bad partition, or a name with nothing safe in it
    :statuscode 409: a file of that name exists; the first file is kept
    :statuscode 413: the body is larger than FS_MAX_UPLOAD_SIZE (nothing is kept)
    """
    partition = paths.partition(partition)
    name = paths.upload_name(name)
    volume = current_file_store()
    with _size_limit():
        incoming = volume.receive(request.stream)
    try:
        stored = volume.create(partition, name, incoming)
    except Exists:
        if not _wants_html():
            raise
        return render_template("fs/exists.html", partition=partition, name=name), 409
    _stored(stored.size)
    emit_local_event("fs", {"action": "upload", "path": f"/{partition}/{name}"})
    url = f"{request.host_url}{quote(partition)}/{quote(name)}"
    headers = {SHA256_HEADER: stored.sha256, "Location": url}
    if _wants_html() or _wants_json_listing():
        response = _listing(partition, stored=name, relative=True, status=201)
        response.headers.extend(headers)
        return response
    return Response(url + "\n", 201, headers, mimetype="text/plain")


@blueprint.get("/<partition>/")
def partition_listing(partition: str):
    """The files of a partition with links relative to this URL, for mirrors (``rclone copy
    --http-url http://host/<partition>/ :http: dir``, ``wget -r -np``); JSON as for ``/list/<partition>``.

    :param partition: 1-128 letters, digits, ``_.-``; not a reserved name
    :query format: ``json`` or ``html`` (overrides ``Accept``)
    :query callback: optional JSONP callback for the JSON listing
    :statuscode 200: the listing (empty for an unknown partition)
    :statuscode 400: the partition name is invalid or reserved
    """
    return _listing(paths.partition(partition), relative=True)


@blueprint.get("/list/<partition>")
def listing(partition: str):
    """The files of a partition: HTML, or JSON ``[{name, size, modified, sha256}]`` with
    ``Accept: application/json`` or ``?format=json``.

    :param partition: 1-128 letters, digits, ``_.-``; not a reserved name
    :query format: ``json`` or ``html`` (overrides ``Accept``)
    :query callback: optional JSONP callback for the JSON listing
    :statuscode 200: the listing (empty for an unknown partition)
    :statuscode 400: the partition name is invalid or reserved
    """
    return _listing(paths.partition(partition))


@blueprint.get("/<partition>/<name>")
@blueprint.get("/dl/<partition>/<name>")
def download(partition: str, name: str):
    """Download a file of a partition (``Content-Disposition: attachment``).

    :param partition: the partition
    :param name: the file's stored name
    :statuscode 200: the file (``Range`` gives ``206``, ``If-None-Match`` ``304`` through the gateway)
    :statuscode 400: unsafe or invalid partition or name
    :statuscode 404: no such file
    """
    return _send(current_file_store().locate_upload(partition, name), attachment=True)
