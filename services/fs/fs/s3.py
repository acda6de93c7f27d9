"""fs on an S3-compatible object store (`FS_BACKEND=s3`): the same contract as the local volume.

Objects live in `S3_BUCKET` under `S3_PREFIX`: `files/<path>` for `/fs`, `uploads/<partition>/<name>`
for the uploader, each with its sha256 in the object metadata `sha256`.

- An upload streams into a temporary file of the replica's own scratch folder (`<DATA_DIR>/.tmp`,
  bounded memory, hashed while it arrives), then goes to the object store in one PutObject or, above
  `MULTIPART_THRESHOLD`, a multipart upload. An object appears only when its upload completes: a
  cut-off or refused upload leaves no object, and a failed multipart upload is aborted.
- `put` replaces (last writer wins). `create` never replaces, across every replica: a claim in Redis
  (`SET NX`) lets one upload of a name proceed at a time, the write itself is conditional
  (`If-None-Match: *`), and the stored object is read back to check it is the one this call wrote.
  Without Redis the conditional write and the read-back remain.
- Folders do not exist in an object store: a path is refused (`Conflict`) when a file is where one of
  its folders would be, or when files are below it, as on the local volume.
- Downloads are presigned URLs that the gateway fetches for the client (`X-Accel-Redirect` to its
  internal `/_fs_s3/` location), so Range, ETag and 304 come from the object store.
"""
from __future__ import annotations

import contextlib
import copy
import mimetypes
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import botocore.exceptions

from hipflask.s3 import ObjectBucket, ObjectStoreUnavailable, S3Settings, is_missing

from fs import paths
from fs.errors import Conflict, Exists, NotFound
from fs.records import Entry, Located, Stored
from fs.temporaries import Incoming, Temporaries, discarded_on_failure

FILES = "files"
UPLOADS = "uploads"
NAMESPACES = "namespaces"
MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
CLAIM_SECONDS = 3600
STALE_UPLOAD_SECONDS = 24 * 3600
PRESIGN_SECONDS = 300


def _precondition_failed(exc: botocore.exceptions.ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict") or \
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412)


class S3Store:
    """The files of fs in one bucket and prefix (see the module docstring for the contract).

    `claim(key, token, seconds)` takes an exclusive claim on a name (True), reports it taken by
    another upload (False) or cannot say (None, e.g. Redis down); `release(key)` drops it.
    """

    def __init__(self, settings: S3Settings, scratch: Path | str, max_size: int,
                 claim: Callable[[str, str, int], bool | None] | None = None,
                 release: Callable[[str], None] | None = None, hostname: str | None = None):
        self.settings = settings
        self.max_size = max_size
        self.objects = ObjectBucket(settings)
        self.bucket = settings.bucket
        self.prefix = settings.key_prefix
        self.tmp = Path(scratch) / ".tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        host = (hostname or socket.gethostname() or "localhost").replace("~", "-").replace("/", "-")
        self.temporaries = Temporaries(self.tmp, host)
        self._claim = claim
        self._release = release

    @property
    def client(self) -> Any:
        return self.objects.client

    # -- plumbing ---------------------------------------------------------------------------

    def scoped(self, namespace: str) -> S3Store:
        """This store seen by one namespace (token mode): its files and partitions live under
        `<prefix>namespaces/<namespace>/` and nothing outside it is reachable."""
        view = copy.copy(self)
        view.prefix = f"{self.prefix}{NAMESPACES}/{paths.namespace_folder(namespace)}/"
        return view

    def _key(self, parts: tuple[str, ...]) -> str:
        return self.prefix + "/".join(parts)

    def _call(self, operation: str, **kwargs) -> Any:
        return self.objects.call(operation, **kwargs)

    def _head(self, key: str) -> dict | None:
        return self.objects.head(key)

    def _has_below(self, key: str) -> bool:
        return self.objects.has_below(key)

    def ensure_bucket(self) -> None:
        """Create the bucket when it is missing."""
        self.objects.ensure()

    # -- temporary files ---------------------------------------------------------------------

    def incoming(self) -> Incoming:
        """A new temporary file (in this replica's scratch folder) to receive an upload into."""
        return Incoming(self.temporaries.path(), self.max_size, xattrs=False)

    def receive(self, stream: IO[bytes]) -> Incoming:
        """A finished temporary file holding all of `stream` (discarded if reading fails)."""
        incoming = self.incoming()
        with discarded_on_failure(incoming):
            incoming.copy_from(stream).finish()
        return incoming

    def clean_temporaries(self, now: float | None = None) -> int:
        """Remove scratch files of dead processes and abort multipart uploads older than a day."""
        removed = self.temporaries.clean(now)
        cutoff = (time.time() if now is None else now) - STALE_UPLOAD_SECONDS
        with contextlib.suppress(botocore.exceptions.ClientError, ObjectStoreUnavailable):
            listed = self._call("list_multipart_uploads", Prefix=self.prefix)
            for upload in listed.get("Uploads", []):
                if upload["Initiated"].timestamp() < cutoff:
                    self._call("abort_multipart_upload", Key=upload["Key"], UploadId=upload["UploadId"])
                    removed += 1
        return removed

    # -- writes --------------------------------------------------------------------------------

    def _upload(self, key: str, incoming: Incoming, token: str, create_only: bool) -> None:
        """Send the finished `incoming` to `key`; only a complete upload becomes an object."""
        metadata = {"sha256": incoming.sha256 or "", "upload": token}
        content_type = mimetypes.guess_type(key.rsplit("/", 1)[-1], strict=False)[0] or "application/octet-stream"
        condition = {"IfNoneMatch": "*"} if create_only else {}
        try:
            if incoming.size <= MULTIPART_THRESHOLD:
                with open(incoming.path, "rb") as body:
                    self._call("put_object", Key=key, Body=body, Metadata=metadata, ContentType=content_type,
                               **condition)
                return
            upload_id = self._call("create_multipart_upload", Key=key, Metadata=metadata,
                                   ContentType=content_type)["UploadId"]
            try:
                parts = []
                with open(incoming.path, "rb") as body:
                    for number in range(1, 10001):
                        chunk = body.read(PART_SIZE)
                        if not chunk:
                            break
                        etag = self._call("upload_part", Key=key, UploadId=upload_id, PartNumber=number,
                                          Body=chunk)["ETag"]
                        parts.append({"PartNumber": number, "ETag": etag})
                self._call("complete_multipart_upload", Key=key, UploadId=upload_id,
                           MultipartUpload={"Parts": parts}, **condition)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._call("abort_multipart_upload", Key=key, UploadId=upload_id)
                raise
        except botocore.exceptions.ClientError as exc:
            if create_only and _precondition_failed(exc):
                raise Exists(key.rsplit("/", 1)[-1]) from None
            raise

    def _stored(self, parts: tuple[str, ...], incoming: Incoming) -> Stored:
        return Stored("/".join(parts), incoming.size, incoming.sha256 or "")

    def write(self, path: str | paths.FsPath, stream: IO[bytes]) -> Stored:
        """`put` of all of `stream` at `path` (refused before reading when the path is bad)."""
        paths.fs_path(path)
        return self.put(path, self.receive(stream))

    def put(self, path: str | paths.FsPath, incoming: Incoming) -> Stored:
        """Store `incoming` at `files/<path>`, replacing any file there; on any failure
        `incoming` is discarded and nothing changes."""
        with incoming:
            names = paths.fs_path(path)
            incoming.finish()
            parts = (FILES, *names)
            key = self._key(parts)
            if self._has_below(key):
                raise Conflict(f"{'/'.join(names)} is a folder")
            for depth in range(2, len(parts)):
                if self._head(self._key(parts[:depth])) is not None:
                    raise Conflict(f"{parts[depth - 1]!r} is a file, not a folder")
            self._upload(key, incoming, secrets.token_hex(8), create_only=False)
        return self._stored(parts, incoming)

    def create(self, partition: str, name: str, incoming: Incoming) -> Stored:
        """Store `incoming` as `uploads/<partition>/<name>` unless that name exists (`Exists`),
        even when uploads of one name race on several replicas."""
        with incoming:
            parts = (UPLOADS, paths.partition(partition), paths.name(name))
            incoming.finish()
            key = self._key(parts)
            token = secrets.token_hex(8)
            claimed = self._claim(key, token, CLAIM_SECONDS) if self._claim else None
            if claimed is False:
                raise Exists(name)
            try:
                if self._head(key) is not None:
                    raise Exists(name)
                self._upload(key, incoming, token, create_only=True)
                stored = self._head(key)
                if stored is None or stored.get("Metadata", {}).get("upload") != token:
                    raise Exists(name)
            finally:
                if claimed and self._release:
                    self._release(key)
        return self._stored(parts, incoming)

    def delete(self, path: str) -> None:
        """Remove the file `files/<path>` (NotFound when missing)."""
        key = self._key((FILES, *paths.fs_path(path)))
        if self._head(key) is None:
            raise NotFound()
        self._call("delete_object", Key=key)

    # -- reads ---------------------------------------------------------------------------------

    def _locate(self, parts: tuple[str, ...]) -> Located:
        key = self._key(parts)
        head = self._head(key)
        if head is None:
            raise NotFound()
        return Located("/".join(parts), None, parts[-1], head["ContentLength"],
                       head["LastModified"].timestamp(), head.get("Metadata", {}).get("sha256") or None,
                       key=key, object_etag=head.get("ETag"))

    def locate_file(self, path: str) -> Located:
        """The file of a relative `/fs` path (everything a download needs)."""
        return self._locate((FILES, *paths.fs_path(path)))

    def locate_upload(self, partition: str, name: str) -> Located:
        """The file `name` of an uploader partition (everything a download needs)."""
        return self._locate((UPLOADS, paths.partition(partition), paths.name(name)))

    def url(self, located: Located, method: str = "GET") -> str:
        """A presigned URL of `located` for `method` (GET or HEAD), valid a few minutes."""
        operation = "head_object" if method == "HEAD" else "get_object"
        return self.client.generate_presigned_url(operation, Params={"Bucket": self.bucket, "Key": located.key},
                                                  ExpiresIn=PRESIGN_SECONDS, HttpMethod=method)

    def open(self, located: Located, byte_range: str | None = None) -> dict:
        """The object's GetObject answer (a `Body` stream), for serving without the gateway."""
        extra = {"Range": byte_range} if byte_range else {}
        try:
            return self._call("get_object", Key=located.key, **extra)
        except botocore.exceptions.ClientError as exc:
            if is_missing(exc):
                raise NotFound() from None
            raise

    def listing(self, partition: str) -> list[Entry]:
        """The files of a partition by name (empty for an unknown partition)."""
        prefix = self._key((UPLOADS, paths.partition(partition))) + "/"
        entries = []
        token = None
        while True:
            page = self._call("list_objects_v2", Prefix=prefix, Delimiter="/",
                              **({"ContinuationToken": token} if token else {}))
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix):]
                head = self._head(item["Key"])
                if not name or head is None:
                    continue
                entries.append(Entry(name, head["ContentLength"], head["LastModified"].timestamp(),
                                     head.get("Metadata", {}).get("sha256") or None))
            if not page.get("IsTruncated"):
                break
            token = page.get("NextContinuationToken")
        return sorted(entries, key=lambda entry: entry.name)

    # -- health --------------------------------------------------------------------------------

    def ready(self) -> bool:
        """The bucket answers (made when missing), and the scratch folder is there."""
        self.ensure_bucket()
        return self.tmp.is_dir()
