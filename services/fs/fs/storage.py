"""The fs service's storage on the app: its backend (`FS_BACKEND`), opened at start."""
from __future__ import annotations

import logging

from flask import Flask

from hipflask import access
from hipflask.access import namespace
from hipflask.config import Env
from hipflask.health import add_ready_check
from hipflask.metrics import set_namespace_count
from hipflask.state import state

from fs.backend import FileStore
from fs.streaming import StreamingRequest
from fs.volume import Volume

CLAIM_PREFIX = "hipflask:fs:claim:"
log = logging.getLogger("hipflask.fs")


def _s3_store(app: Flask, env: Env, max_size: int) -> FileStore:
    from hipflask.s3 import ObjectStoreUnavailable, S3Settings

    from fs.s3 import S3Store

    settings = state(app).settings
    backplane = state(app).backplane
    s3 = S3Settings.from_env(env)

    def claim(key: str, token: str, seconds: int) -> bool | None:
        return backplane.call("fs_claim", lambda client: bool(
            client.set(CLAIM_PREFIX + key, token, nx=True, ex=seconds)))

    def release(key: str) -> None:
        backplane.call("fs_claim", lambda client: client.delete(CLAIM_PREFIX + key))

    store = S3Store(s3, settings.data_dir, max_size, claim=claim, release=release, hostname=settings.hostname)
    try:
        store.ensure_bucket()
    except ObjectStoreUnavailable as exc:  # not yet up (a cluster starting): readiness keeps asking
        log.warning("fs: %s; starting anyway, not ready until it answers", exc.message)
    return store


def init_app(app: Flask, env: Env) -> None:
    """Read FS_BACKEND, FS_MAX_UPLOAD_SIZE and FS_ACCEL_REDIRECT, open the backend, clean leftovers
    of dead uploads, and make multipart uploads stream into temporary files of the backend."""
    settings = state(app).settings
    max_size = env.size("FS_MAX_UPLOAD_SIZE", "2g")
    backend = env.choice("FS_BACKEND", "local", ("local", "s3"))
    store = _s3_store(app, env, max_size) if backend == "s3" else Volume(settings.data_dir, max_size)
    store.clean_temporaries()
    app.config["MAX_CONTENT_LENGTH"] = max_size
    app.config["FS_ACCEL_REDIRECT"] = env.bool("FS_ACCEL_REDIRECT", True)
    app.request_class = StreamingRequest
    state(app).storage = store
    add_ready_check(app, "volume" if backend == "local" else "object_store", store.ready)
    if isinstance(store, Volume):
        set_namespace_count(app, store.partition_count)


def current_file_store() -> FileStore:
    """The storage of the current request: the whole backend in uid mode (the original's global
    fs), the request's namespace's own part in token mode."""
    shared = state().storage
    if access.policy().mode == "token":
        return shared.scoped(namespace())
    return shared
