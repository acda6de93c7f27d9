"""An S3-compatible object store as the services use it (fs's files with FS_BACKEND=s3, render's
templates with TEMPLATE_BACKEND=s3): the `S3_*` settings, one bucket's client, and the store's
own failures as one error (`ObjectStoreUnavailable`, 503 `storage_unavailable`).
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from hipflask.config import Env
from hipflask.errors import HipflaskError
from hipflask.forking import renew_after_fork

log = logging.getLogger("hipflask.s3")
_MISSING = ("404", "NoSuchKey", "NotFound")
_UNREACHABLE = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError)


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None
    bucket: str
    region: str
    access_key_id: str | None
    secret_access_key: str | None
    prefix: str
    timeout: float = 5.0

    @classmethod
    def from_env(cls, env: Env) -> S3Settings:
        """The settings of `S3_ENDPOINT_URL`, `S3_BUCKET`, `S3_REGION`, `S3_ACCESS_KEY_ID`,
        `S3_SECRET_ACCESS_KEY` (and their `_FILE` variants), `S3_PREFIX` and `S3_TIMEOUT`."""
        return cls(
            endpoint_url=env.raw("S3_ENDPOINT_URL"),
            bucket=env.str("S3_BUCKET", "hipflask"),
            region=env.str("S3_REGION", "us-east-1"),
            access_key_id=env.secret("S3_ACCESS_KEY_ID"),
            secret_access_key=env.secret("S3_SECRET_ACCESS_KEY"),
            prefix=env.str("S3_PREFIX", ""),
            timeout=env.float("S3_TIMEOUT", 5.0, minimum=0.1),
        )

    @property
    def key_prefix(self) -> str:
        """`S3_PREFIX` as the start of a key: empty, or ending in one `/`."""
        stripped = self.prefix.strip("/")
        return stripped + "/" if stripped else ""


class ObjectStoreUnavailable(HipflaskError):
    def __init__(self, detail: str):
        super().__init__(503, "storage_unavailable", f"the object store is unavailable ({detail})",
                         headers={"Retry-After": "5"})


def is_missing(exc: botocore.exceptions.ClientError) -> bool:
    """True when the store answered that the key (or bucket) does not exist."""
    error = exc.response.get("Error", {})
    return str(error.get("Code")) in _MISSING or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


class ObjectBucket:
    """One bucket of the store, through one client (made anew in every forked worker)."""

    def __init__(self, settings: S3Settings):
        self.settings = settings
        self.name = settings.bucket
        self.client = self._new_client()
        renew_after_fork(self, ObjectBucket._renew_client)

    def _new_client(self) -> Any:
        settings = self.settings
        return boto3.client(
            "s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
            aws_access_key_id=settings.access_key_id, aws_secret_access_key=settings.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                          connect_timeout=settings.timeout, read_timeout=max(settings.timeout, 60),
                          retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=32))

    def _renew_client(self) -> None:
        """A forked worker (PRELOAD_APP) opens its own connections, never the parent's."""
        self.client = self._new_client()

    def call(self, operation: str, **kwargs) -> Any:
        """The client's `operation` on this bucket. A store that cannot be reached, refuses the
        credentials or the bucket, or fails (5xx) is `ObjectStoreUnavailable`; any other refusal
        is the client's `ClientError`."""
        try:
            return getattr(self.client, operation)(Bucket=self.name, **kwargs)
        except _UNREACHABLE as exc:
            log.warning("object store unreachable: %s %s", operation, exc)
            raise ObjectStoreUnavailable(type(exc).__name__) from None
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if error.get("Code") in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId",
                                     "SignatureDoesNotMatch") or status >= 500:
                log.warning("object store refused %s: %s %s", operation, error.get("Code"), error.get("Message"))
                raise ObjectStoreUnavailable(str(error.get("Code") or status)) from None
            raise

    def head(self, key: str) -> dict | None:
        """The object's HeadObject answer, None when there is no such object."""
        return self._unless_missing("head_object", key)

    def get(self, key: str) -> dict | None:
        """The object's GetObject answer (`Body`, `ETag`, ...), None when there is no such object."""
        return self._unless_missing("get_object", key)

    def _unless_missing(self, operation: str, key: str) -> dict | None:
        try:
            return self.call(operation, Key=key)
        except botocore.exceptions.ClientError as exc:
            if is_missing(exc):
                return None
            raise

    def has_below(self, key: str) -> bool:
        """True when an object's key starts with `key/` (a "folder" of that name exists)."""
        listed = self.call("list_objects_v2", Prefix=key.rstrip("/") + "/", MaxKeys=1)
        return bool(listed.get("KeyCount") or listed.get("Contents"))

    def ensure(self) -> None:
        """Create the bucket when it is missing (HeadBucket first: ListBuckets may list nothing)."""
        try:
            self.client.head_bucket(Bucket=self.name)
            return
        except botocore.exceptions.ClientError as exc:
            if not is_missing(exc):
                raise
        except botocore.exceptions.BotoCoreError as exc:
            raise ObjectStoreUnavailable(type(exc).__name__) from None
        with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou,
                                 self.client.exceptions.BucketAlreadyExists):
            self.call("create_bucket")
