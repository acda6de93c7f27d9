"""The fs service's storage on the app: its volume (`fs.volume.Volume`), opened at start."""
from __future__ import annotations

from flask import Flask, current_app

from hipflask.config import Env
from hipflask.health import add_ready_check

from fs.streaming import StreamingRequest
from fs.volume import Volume


def init_app(app: Flask, env: Env) -> None:
    """Read FS_MAX_UPLOAD_SIZE and FS_ACCEL_REDIRECT, open the volume, clean leftovers of dead
    uploads, and make multipart uploads stream into the volume."""
    settings = app.extensions["hipflask"]
    max_size = env.size("FS_MAX_UPLOAD_SIZE", "2g")
    volume = Volume(settings.data_dir, max_size)
    volume.clean_temporaries()
    app.config["MAX_CONTENT_LENGTH"] = max_size
    app.config["FS_ACCEL_REDIRECT"] = env.bool("FS_ACCEL_REDIRECT", True)
    app.request_class = StreamingRequest
    app.extensions["fs"] = volume
    add_ready_check(app, "volume", volume.ready)


def volume() -> Volume:
    """The volume of the app serving the current request."""
    return current_app.extensions["fs"]
